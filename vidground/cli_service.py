"""``vidground keys create|list|revoke``: the service's API keys (``vidground.keys``).

:func:`register` adds the commands to the app (called from ``vidground.cli_index.register``). Errors are the
library's :class:`~vidground.errors.VidgroundError`, mapped to exit 2 by ``vidground.cli.main``.
"""

# No ``from __future__ import annotations``: typer reads the commands' annotations.
import json
from typing import Annotated

import typer

keys_app = typer.Typer(help="API keys of the service: one tenant per key, only hashes stored.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the service's commands to the main app."""
    from vidground import cli
    from vidground.cli_index import ListFormat, open_store

    @keys_app.command("create", epilog=cli._epilog("vidground keys create --tenant acme --name ci"))
    def keys_create(
        tenant: Annotated[str, typer.Option("--tenant", help="Whose videos and jobs the key reaches.")],
        name: Annotated[str | None, typer.Option("--name", help="A label to recognise the key by.")] = None,
    ) -> None:
        """Make an API key; the key itself is printed once, as the last line (only its hash is stored)."""
        from vidground import keys

        new = keys.create(open_store(cli._settings()).engine, tenant=tenant, name=name)
        r = new.record
        said = f"key {r.id} ({r.prefix}) for tenant {r.tenant}: store it now, it is not shown again"
        cli.err.print(said, markup=False)
        cli.err.print(f"webhook secret (verifies this key's job webhooks): {new.webhook_secret}", markup=False)
        cli.out.print(new.key, markup=False)

    @keys_app.command("list", epilog=cli._epilog("vidground keys list", "vidground keys list --format json"))
    def keys_list(
        tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
        fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format. [default: table]")] = (
            ListFormat.TABLE
        ),
    ) -> None:
        """List the API keys (id, prefix, tenant, name, created, revoked); never the keys themselves."""
        from vidground import keys

        records = keys.list_keys(open_store(cli._settings()).engine, tenant=tenant)
        if fmt is ListFormat.JSON:
            rows = [
                {
                    "id": r.id,
                    "prefix": r.prefix,
                    "tenant": r.tenant,
                    "name": r.name,
                    "created_at": r.created_at.isoformat(),
                    "revoked_at": None if r.revoked_at is None else r.revoked_at.isoformat(),
                }
                for r in records
            ]
            cli.out.print_json(json.dumps(rows))
            return
        if not records:
            cli.out.print("no API keys yet (vidground keys create --tenant NAME)")
            return
        for r in records:
            state = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
            line = f"{r.id:>5}  {r.prefix}  {r.tenant:<16} {r.name or '-':<16} {r.created_at:%Y-%m-%d %H:%M}  {state}"
            cli.out.print(line, markup=False)

    @keys_app.command("revoke", epilog=cli._epilog("vidground keys revoke vg_Xq3k9aZ1", "vidground keys revoke 3"))
    def keys_revoke(
        ref: Annotated[str, typer.Argument(metavar="PREFIX_OR_ID", help="The key's display prefix or id.")],
    ) -> None:
        """Revoke an API key: requests with it get 401 from now on."""
        from vidground import keys

        record = keys.revoke(open_store(cli._settings()).engine, ref)
        cli.out.print(f"revoked key {record.id} ({record.prefix}) of tenant {record.tenant}", markup=False)

    app.add_typer(keys_app, name="keys")
