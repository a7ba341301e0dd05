// The vidground web page: library (upload, live job progress), video (player, captions, timeline, locate) and
// search, over the REST API of the same server. Plain JavaScript, no library, nothing to build.
//
// Every API call sends the key kept in localStorage as `Authorization: Bearer`. Things a tag must load by URL
// are authorised without a header: thumbnails and the WebVTT track are fetched with the key and shown from blob
// URLs; the player's file comes from a signed, expiring link (POST /v1/videos/{id}/file-url), so Range seeking
// works.
"use strict";

const KEY_STORAGE = "vidground.apiKey";
const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running"]);

// -- helpers ----------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders() {
  return { Authorization: "Bearer " + apiKey() };
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.message) return body.message;
  } catch (_) {
    // not JSON: fall through to the status line
  }
  return `${response.status} ${response.statusText}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) {
    const message = await errorMessage(response);
    if (response.status === 401) askForKey(message);
    throw new ApiError(response.status, message);
  }
  return response;
}

async function apiJson(path, options = {}) {
  return (await api(path, options)).json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** 64.25 -> "1:04.3", 3725 -> "1:02:05.0" */
function timecode(seconds) {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const s = (tenths % 600) / 10;
  const m = Math.floor(tenths / 600) % 60;
  const h = Math.floor(tenths / 36000);
  const ss = s.toFixed(1).padStart(4, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function setStatus(text) {
  document.getElementById("page-status").textContent = text;
}

function showTemplate(id) {
  const page = document.getElementById("page");
  page.replaceChildren(document.getElementById(id).content.cloneNode(true));
  return page;
}

const thumbUrls = new Map();

/** Show the frame at `t` in `img`, fetched with the key (an <img> cannot send it). */
async function loadThumbnail(img, videoId, t, width = 320) {
  const path = `/v1/videos/${videoId}/thumbnail?t=${t.toFixed(1)}&width=${width}`;
  try {
    if (!thumbUrls.has(path)) {
      const blob = await (await api(path)).blob();
      thumbUrls.set(path, URL.createObjectURL(blob));
    }
    img.src = thumbUrls.get(path);
  } catch (error) {
    img.alt = `no thumbnail: ${error.message}`;
  }
}

// -- the key ----------------------------------------------------------------------------------------------------

function askForKey(message) {
  const input = document.getElementById("key-input");
  document.getElementById("key-form").classList.add("needed");
  setStatus(message || "Enter an API key to continue.");
  input.focus();
}

function setUpKeyForm() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  input.value = apiKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, input.value.trim());
    location.reload();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
}

// -- library ----------------------------------------------------------------------------------------------------

function uploadFiles(videoFile, subtitleFile, onProgress) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const body = new FormData();
    body.append("file", videoFile, videoFile.name);
    if (subtitleFile) body.append("subtitles", subtitleFile, subtitleFile.name);
    const request = new XMLHttpRequest();
    request.open("POST", "/v1/videos");
    request.setRequestHeader("Authorization", "Bearer " + apiKey());
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch (_) {
        // a proxy's HTML error page: the status line says enough
      }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(request.status, (body && body.message) || `${request.status} ${request.statusText}`));
    });
    request.addEventListener("error", () => reject(new ApiError(0, "the upload failed: the server could not be reached")));
    request.send(body);
  });
}

function jobProgress(job) {
  const { stage, done, total } = job.progress;
  const percent = total > 0 ? Math.round((100 * done) / total) : 0;
  const label = job.status === "queued" ? "queued" : `${stage || "starting"} ${percent}%`;
  return { percent, label };
}

function renderVideoItem(video, job) {
  const link = `/videos/${video.id}`;
  const img = el("img", { alt: `First frame of video ${video.id}`, width: 160, height: 90, loading: "lazy" });
  const item = el(
    "li",
    { class: "video-item", "data-video-id": video.id, "data-status": video.status },
    el("a", { href: link, class: "thumb-link", tabindex: -1, "aria-hidden": "true" }, img),
    el(
      "div",
      { class: "video-facts" },
      el("a", { href: link, class: "video-name", text: `Video ${video.id}` }),
      el("span", { text: `${timecode(video.duration_s)} · ${video.width}×${video.height}` }),
      el("span", { class: `badge status-${video.status}`, text: video.status }),
      video.error ? el("span", { class: "error", text: video.error }) : null,
    ),
  );
  if (job) {
    const { percent, label } = jobProgress(job);
    const active = ACTIVE.has(job.status);
    item.append(
      el(
        "div",
        { class: "job", "data-job-id": job.id, "data-job-status": job.status },
        el("progress", {
          max: 100,
          value: job.status === "succeeded" ? 100 : percent,
          "aria-label": `${job.kind} job of video ${video.id}`,
        }),
        el("span", { class: "job-label", text: active ? `${job.kind}: ${label}` : `${job.kind}: ${job.status}` }),
        job.error ? el("span", { class: "error", text: job.error }) : null,
      ),
    );
  }
  loadThumbnail(img, video.id, Math.min(1, video.duration_s / 2), 160);
  return item;
}

async function showLibrary() {
  showTemplate("library-template");
  const list = document.getElementById("video-list");
  const more = document.getElementById("more-videos");
  let cursor = null;
  let videos = [];
  let pollTimer = null;

  async function latestJobs() {
    const page = await apiJson("/v1/jobs?limit=100");
    const byVideo = new Map();
    for (const job of page.items) if (job.video_id !== null && !byVideo.has(job.video_id)) byVideo.set(job.video_id, job);
    return byVideo;
  }

  async function render() {
    const jobs = await latestJobs();
    list.replaceChildren(...videos.map((video) => renderVideoItem(video, jobs.get(video.id))));
    document.getElementById("videos-empty").hidden = videos.length > 0;
    return [...jobs.values()].some((job) => ACTIVE.has(job.status));
  }

  async function refresh() {
    // Reload what is shown (statuses change when jobs end), then keep polling while any job is queued or running.
    clearTimeout(pollTimer);
    try {
      const page = await apiJson(`/v1/videos?limit=${Math.max(videos.length, 50)}`);
      videos = page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (await render()) pollTimer = setTimeout(refresh, POLL_MS);
    } catch (error) {
      setStatus(error.message);
    }
  }

  more.addEventListener("click", async () => {
    const page = await apiJson(`/v1/videos?limit=50&cursor=${encodeURIComponent(cursor)}`);
    videos = videos.concat(page.items);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    await render();
  });

  setUpUpload(refresh);
  await refresh();
}

function setUpUpload(onUploaded) {
  const form = document.getElementById("upload-form");
  const videoInput = document.getElementById("video-input");
  const subtitleInput = document.getElementById("subtitle-input");
  const progress = document.getElementById("upload-progress");
  const message = document.getElementById("upload-message");
  const button = document.getElementById("upload-button");
  const zone = document.getElementById("dropzone");

  async function send(videoFile, subtitleFile) {
    message.textContent = "";
    message.className = "message";
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    try {
      const answer = await uploadFiles(videoFile, subtitleFile, (fraction) => (progress.value = 100 * fraction));
      progress.value = 100;
      message.textContent = answer.created
        ? `Uploaded as video ${answer.video.id}; its ingest job ${answer.job.id} is ${answer.job.status}.`
        : `Already in the library as video ${answer.video.id}.`;
      message.classList.add("ok");
      form.reset();
      await onUploaded();
    } catch (error) {
      message.textContent = error.message;
      message.classList.add("error");
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (videoInput.files.length) send(videoInput.files[0], subtitleInput.files[0] || null);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const files = [...event.dataTransfer.files];
    const isSubtitle = (file) => /\.(srt|vtt)$/i.test(file.name);
    const videoFile = files.find((file) => !isSubtitle(file));
    if (!videoFile) {
      message.textContent = "Drop a video file (subtitles alone cannot be indexed).";
      message.className = "message error";
      return;
    }
    send(videoFile, files.find(isSubtitle) || null);
  });
}

// -- video ------------------------------------------------------------------------------------------------------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const number = (name) => (params.has(name) && !Number.isNaN(parseFloat(params.get(name))) ? parseFloat(params.get(name)) : null);
  return { t: number("t"), end: number("end") };
}

function place(node, start, end, duration) {
  const left = duration > 0 ? (100 * start) / duration : 0;
  const width = duration > 0 ? (100 * Math.max(end - start, 0)) / duration : 0;
  node.style.left = `${Math.min(left, 100)}%`;
  node.style.width = `max(${Math.min(width, 100 - left)}%, 3px)`;
  node.dataset.start = start;
  node.dataset.end = end;
  return node;
}

async function showVideo(videoId) {
  showTemplate("video-template");
  const player = document.getElementById("player");
  let video;
  try {
    video = await apiJson(`/v1/videos/${videoId}`);
  } catch (error) {
    document.querySelector(".watch").remove();
    document.getElementById("video-title").textContent = "Video not available";
    setStatus(error.message);
    return;
  }
  const duration = video.duration_s;
  document.getElementById("video-title").textContent = `Video ${video.id}`;
  document.title = `Video ${video.id} · vidground`;
  document.getElementById("video-facts").textContent =
    `${timecode(duration)} · ${video.width}×${video.height} · ${video.fps.toFixed(2)} fps · ${video.status}`;

  const seek = (t) => {
    player.currentTime = t;
    history.replaceState(null, "", `#t=${t.toFixed(1)}`);
  };

  const fileUrl = await apiJson(`/v1/videos/${videoId}/file-url`, { method: "POST" });
  player.src = fileUrl.url;
  player.addEventListener("error", async () => {
    // The signed link may have expired while the page stayed open: take a new one and go on where it was.
    if (!player.error || player.error.code !== MediaError.MEDIA_ERR_NETWORK) return;
    const at = player.currentTime;
    player.src = (await apiJson(`/v1/videos/${videoId}/file-url`, { method: "POST" })).url;
    player.currentTime = at;
  });

  const { t, end } = readHash();
  if (t !== null) {
    player.currentTime = t;  // applied once the metadata is in; before that the element keeps it as the start
    player.addEventListener("loadedmetadata", () => (player.currentTime = t), { once: true });
    if (end !== null) {
      document.getElementById("lane-spans").append(
        place(el("div", { class: "seg hit", title: `search hit ${timecode(t)}–${timecode(end)}` }), t, end, duration),
      );
    }
  }
  window.addEventListener("hashchange", () => {
    const wanted = readHash().t;
    if (wanted !== null && Math.abs(wanted - player.currentTime) > 0.05) player.currentTime = wanted;
  });
  player.addEventListener("pause", () => history.replaceState(null, "", `#t=${player.currentTime.toFixed(1)}`));

  await Promise.all([loadCaptions(videoId, duration, seek), loadEvents(videoId, duration, seek)]);
  followPlayback(player, duration);
  setUpLocate(videoId, duration, seek);
}

async function loadCaptions(videoId, duration, seek) {
  const player = document.getElementById("player");
  const [list, vtt] = await Promise.all([
    apiJson(`/v1/videos/${videoId}/captions`),
    api(`/v1/videos/${videoId}/captions?format=vtt`).then((r) => r.blob()),
  ]);
  const captions = list.captions;
  document.getElementById("captions-empty").hidden = captions.length > 0;
  document.getElementById("caption-list").hidden = captions.length === 0;
  const toggle = document.getElementById("captions-toggle");
  if (captions.length) {
    const track = el("track", { kind: "captions", label: "Captions", srclang: "en", default: true });
    track.src = URL.createObjectURL(new Blob([vtt], { type: "text/vtt" }));
    player.append(track);
    toggle.addEventListener("click", () => {
      const showing = toggle.getAttribute("aria-pressed") === "true";
      for (const textTrack of player.textTracks) textTrack.mode = showing ? "hidden" : "showing";
      toggle.setAttribute("aria-pressed", String(!showing));
      toggle.textContent = showing ? "Captions off" : "Captions on";
    });
  } else {
    toggle.disabled = true;
    toggle.textContent = "No captions";
  }
  const lane = document.getElementById("lane-captions");
  const ol = document.getElementById("caption-list");
  captions.forEach((caption, index) => {
    lane.append(
      place(el("div", { class: "seg caption", title: caption.text, onclick: () => seek(caption.start_s) }), caption.start_s, caption.end_s, duration),
    );
    ol.append(
      el(
        "li",
        { "data-start": caption.start_s, "data-end": caption.end_s, "data-index": index },
        el(
          "button",
          { type: "button", class: "caption-line", onclick: () => seek(caption.start_s) },
          el("span", { class: "tc", text: timecode(caption.start_s) }),
          " ",
          caption.text,
        ),
      ),
    );
  });
}

function renderEvents(container, queries, duration, seek) {
  const lane = document.getElementById("lane-spans");
  lane.querySelectorAll(".seg.span").forEach((node) => node.remove());
  container.replaceChildren();
  for (const entry of queries) {
    const spans = entry.spans;
    const section = el("section", { class: "locate-result", "data-query": entry.query }, el("h3", { text: entry.query }));
    if (!spans.length || entry.outcome === "not_found") {
      section.append(el("p", { class: "not-found", text: entry.outcome === "unreadable" ? "The answer could not be read." : "Not found." }));
    } else {
      const ol = el("ol", { class: "span-list" });
      spans.forEach((span, index) => {
        const score = span.score === null ? "" : ` · score ${span.score.toFixed(2)}`;
        ol.append(
          el(
            "li",
            {},
            el("button", {
              type: "button",
              class: "span-button",
              "data-start": span.start_s,
              onclick: () => seek(span.start_s),
              text: `#${span.rank || index + 1} ${timecode(span.start_s)}–${timecode(span.end_s)}${score}`,
            }),
          ),
        );
        lane.append(
          place(
            el("div", { class: "seg span", title: `${entry.query}: ${timecode(span.start_s)}–${timecode(span.end_s)}`, onclick: () => seek(span.start_s) }),
            span.start_s,
            span.end_s,
            duration,
          ),
        );
      });
      section.append(ol);
    }
    for (const issue of entry.issues) section.append(el("p", { class: "issue", text: issue }));
    container.append(section);
  }
}

async function loadEvents(videoId, duration, seek) {
  const events = await apiJson(`/v1/videos/${videoId}/events`);
  renderEvents(document.getElementById("locate-results"), events.queries, duration, seek);
}

function followPlayback(player, duration) {
  const playhead = document.getElementById("playhead");
  const clock = document.getElementById("clock");
  const lines = [...document.querySelectorAll("#caption-list li")];
  let current = null;
  const update = () => {
    const now = player.currentTime;
    playhead.style.left = `${duration > 0 ? Math.min(100, (100 * now) / duration) : 0}%`;
    clock.textContent = timecode(now);
    const line = lines.find((li) => now >= parseFloat(li.dataset.start) && now < parseFloat(li.dataset.end)) || null;
    if (line === current) return;
    if (current) current.removeAttribute("aria-current");
    current = line;
    if (current) {
      current.setAttribute("aria-current", "true");
      current.scrollIntoView({ block: "nearest" });
    }
  };
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
  update();
  document.getElementById("timeline").addEventListener("click", (event) => {
    if (event.target.classList.contains("seg")) return;  // a segment seeks to its own start
    const box = event.currentTarget.getBoundingClientRect();
    player.currentTime = (duration * (event.clientX - box.left)) / box.width;
  });
}

async function waitForJob(jobId, onProgress) {
  for (;;) {
    const job = await apiJson(`/v1/jobs/${jobId}`);
    onProgress(job);
    if (!ACTIVE.has(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function setUpLocate(videoId, duration, seek) {
  const form = document.getElementById("locate-form");
  const input = document.getElementById("locate-input");
  const progress = document.getElementById("locate-progress");
  const message = document.getElementById("locate-message");
  const button = document.getElementById("locate-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const queries = input.value.split("\n").map((q) => q.trim()).filter(Boolean);
    if (!queries.length) return;
    button.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    try {
      const answer = await apiJson(`/v1/videos/${videoId}/locate`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ queries }),
      });
      const job = await waitForJob(answer.job.id, (job) => {
        const { percent, label } = jobProgress(job);
        if (job.status === "running" && job.progress.total > 0) progress.value = percent;
        message.textContent = `Locate job ${job.id}: ${label}`;
      });
      if (job.status !== "succeeded") throw new ApiError(0, `Locate job ${job.id} ${job.status}: ${job.error || "no answer"}`);
      message.textContent = `Locate job ${job.id} finished.`;
      const events = await apiJson(`/v1/videos/${videoId}/events`);
      const asked = new Set(queries);
      const results = document.getElementById("locate-results");
      renderEvents(results, events.queries.filter((q) => asked.has(q.query)), duration, seek);
      const first = results.querySelector("button");
      if (first) first.focus();
    } catch (error) {
      message.textContent = error.message;
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  });
}

// -- search -----------------------------------------------------------------------------------------------------

async function showSearch() {
  showTemplate("search-template");
  const q = new URLSearchParams(location.search).get("q") || "";
  const input = document.getElementById("search-input");
  input.value = q;
  if (!q) {
    input.focus();
    return;
  }
  const summary = document.getElementById("search-summary");
  const results = document.getElementById("search-results");
  summary.textContent = "Searching…";
  let page;
  try {
    page = await apiJson(`/v1/search?q=${encodeURIComponent(q)}&limit=50`);
  } catch (error) {
    summary.textContent = error.message;
    return;
  }
  const groups = new Map();
  for (const hit of page.hits) {
    if (!groups.has(hit.video_id)) groups.set(hit.video_id, []);
    groups.get(hit.video_id).push(hit);
  }
  summary.textContent = page.hits.length
    ? `${page.hits.length} moment${page.hits.length === 1 ? "" : "s"} in ${groups.size} video${groups.size === 1 ? "" : "s"} for “${q}”.`
    : `Nothing found for “${q}”.`;
  for (const [videoId, hits] of groups) {
    const ol = el("ol", { class: "hit-list" });
    for (const hit of hits) {
      const img = el("img", { alt: "", width: 160, height: 90, loading: "lazy" });
      const href = `/videos/${videoId}#t=${hit.start_s.toFixed(2)}&end=${hit.end_s.toFixed(2)}`;
      ol.append(
        el(
          "li",
          { class: "hit", "data-start": hit.start_s, "data-end": hit.end_s },
          el(
            "a",
            { href, class: "hit-link" },
            img,
            el(
              "span",
              { class: "hit-body" },
              el("span", { class: "tc", text: `${timecode(hit.start_s)}–${timecode(hit.end_s)}` }),
              el("span", { class: "hit-text", text: hit.text }),
              el("span", { class: "signals", text: `${hit.source} · found by ${hit.signals.join(" + ")}` }),
            ),
          ),
        ),
      );
      loadThumbnail(img, videoId, hit.start_s, 160);
    }
    results.append(
      el("section", { class: "hit-group", "data-video-id": videoId }, el("h2", {}, el("a", { href: `/videos/${videoId}`, text: `Video ${videoId}` })), ol),
    );
  }
}

// -- start ------------------------------------------------------------------------------------------------------

async function start() {
  setUpKeyForm();
  const path = location.pathname;
  const videoMatch = path.match(/^\/videos\/(\d+)\/?$/);
  const page = videoMatch ? "video" : path.startsWith("/search") ? "search" : "library";
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
  }
  if (!apiKey()) {
    askForKey("Enter an API key to see this tenant's videos.");
    document.body.dataset.ready = "no-key";
    return;
  }
  try {
    if (videoMatch) await showVideo(videoMatch[1]);
    else if (page === "search") await showSearch();
    else await showLibrary();
    document.body.dataset.ready = page;
  } catch (error) {
    setStatus(error.message);
    document.body.dataset.ready = "error";
  }
}

start();
