"""`adcluster creative ...`: write copy with the LLM, make image variants, import assets, search the
library. Everything written lands in the asset store (content-addressed, with tags) and the vector
index; nothing is sent to a platform from here."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from app.console import cli_settings, make_console
from app.settings import Settings
from storage.asset_types import AssetKind, AssetMeta, Tag
from storage.assets import AssetStore
from storage.models import Ad, Campaign, Creative
from storage.vectors import CreativeDoc, CreativeIndex
from tools.creative.errors import CreativeError
from tools.creative.library import CreativeLibrary
from tools.creative.text import BaseCreative, Brief, VariantBatch, write_variants
from tools.llm.errors import LLMError

creative_app = typer.Typer(
    help="Creative studio: new copy from the LLM, image variants per platform, the asset library.",
    no_args_is_help=True,
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm"}


class PlatformName(StrEnum):
    meta = "meta"
    x = "x"
    tiktok = "tiktok"


def _parts(settings: Settings) -> tuple[Engine, AssetStore, CreativeIndex]:
    from app import composition

    engine = composition.warehouse(settings)
    return engine, composition.asset_store(settings, engine), composition.creative_index(settings)


def _print_batch(batch: VariantBatch, ids: list[str], usage: dict[str, object], as_json: bool) -> None:
    if as_json:
        payload = batch.model_dump(mode="json")
        payload["asset_ids"] = ids
        payload["llm_usage"] = usage
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    console = make_console()
    table = Table(title=f"{len(batch.variants)} of {batch.asked} variants for {batch.brief.platform}")
    for col in ("headline", "text", "CTA", "tags", "source", "fixed"):
        table.add_column(col)
    for v in batch.variants:
        table.add_row(
            escape(v.headline),
            escape(v.primary_text),
            v.platform_cta,
            f"{v.tags.emotion}, {v.tags.theme}, offer {v.tags.offer}",
            v.source,
            escape("; ".join(v.repairs + v.tag_fixes)),
        )
    console.print(table)
    for d in batch.dropped:
        console.print(f"[yellow]dropped[/yellow] {escape(d.headline)!r}: {escape(d.reason)}")
    for f in batch.model_failures:
        console.print(f"[red]failed[/red] {escape(f)}")
    console.print(
        f"model answers {batch.model_answers}, first time valid {batch.first_time_valid}, "
        f"from the model {batch.from_model}, from the template {batch.from_template}; "
        f"tokens {usage.get('prompt_tokens')} in / {usage.get('completion_tokens')} out"
    )


async def _write(
    settings: Settings, brief: Brief, n: int, base: BaseCreative | None, store_it: bool
) -> tuple[VariantBatch, list[str], dict[str, object]]:
    from app import composition

    engine, store, index = _parts(settings)
    library = CreativeLibrary(store, index)
    async with composition.llm_client(settings) as llm:
        batch = await write_variants(llm, brief, n, base=base, library=library.similarity())
        usage = llm.usage.model_dump(mode="json")
        ids = library.keep(batch, llm.model) if store_it else []
    engine.dispose()
    return batch, ids, usage


@creative_app.command("write")
def write(
    product: str = typer.Option(..., "--product", help="what the ads sell, e.g. 'yoga mats'"),
    platform: PlatformName = typer.Option(..., "--platform", help="whose copy limits to respect"),
    n: int = typer.Option(5, "-n", min=1, max=50, help="how many variants"),
    audience: str = typer.Option("people who shop online", help="who the ads speak to"),
    offer: str = typer.Option("none", help="an offer to mention, e.g. '20% off this week'"),
    tone: str = typer.Option("friendly and clear", help="the voice"),
    language: str = typer.Option("en", help="ISO 639-1 code: en es fr de it pt nl ja ko zh"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    no_store: bool = typer.Option(False, "--no-store", help="do not keep the variants in the library"),
) -> None:
    """Write new ad copy from a brief with the configured LLM (the embedded model by default)."""
    settings = cli_settings()
    try:
        brief = Brief(
            product=product,
            platform=platform.value,
            audience=audience,
            offer=offer,
            tone=tone,
            language=language,
        )  # type: ignore[arg-type]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        batch, ids, usage = asyncio.run(_write(settings, brief, n, None, not no_store))
    except LLMError as exc:
        make_console().print(f"[red]the LLM is not available:[/red] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    _print_batch(batch, ids, usage, as_json)
    if not batch.variants:
        raise typer.Exit(code=1)


def base_from_ad(engine: Engine, ad_ref: str) -> tuple[Ad, Creative, Campaign, BaseCreative]:
    from tools.creative.base_ad import BaseAdError, load_base_ad

    try:
        found = load_base_ad(engine, ad_ref)
    except BaseAdError as exc:
        raise typer.BadParameter(str(exc)) from None
    return found.ad, found.creative, found.campaign, found.base  # type: ignore[return-value]


@creative_app.command("variants")
def variants(
    ad: str = typer.Option(..., "--ad", help="the ad's id (internal or the platform's)"),
    n: int = typer.Option(5, "-n", min=1, max=50, help="how many variants"),
    product: str | None = typer.Option(None, "--product", help="default: the ad's campaign name"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    no_store: bool = typer.Option(False, "--no-store", help="do not keep the variants in the library"),
) -> None:
    """Write new copy for an existing ad, from its text and its numbers in the warehouse."""
    settings = cli_settings()
    engine, _, _ = _parts(settings)
    row, _creative, campaign, base = base_from_ad(engine, ad)
    engine.dispose()
    brief = Brief(
        product=(product or (campaign.name if campaign else base.headline))[:80], platform=row.platform
    )  # type: ignore[arg-type]
    try:
        batch, ids, usage = asyncio.run(_write(settings, brief, n, base, not no_store))
    except LLMError as exc:
        make_console().print(f"[red]the LLM is not available:[/red] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    _print_batch(batch, ids, usage, as_json)


@creative_app.command("search")
def search(
    text: str = typer.Argument(..., help="what you are looking for, in words"),
    platform: PlatformName | None = typer.Option(None, "--platform"),
    tag: list[str] = typer.Option(
        [], "--tag", help="kind:value, e.g. offer:discount (repeatable; all must match)"
    ),
    k: int = typer.Option(10, "-k", min=1, max=100, help="how many results"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The creatives nearest in meaning to TEXT in the library, with filters."""
    settings = cli_settings()
    from app import composition

    try:
        tags = [Tag.parse(t) for t in tag]
        hits = composition.creative_index(settings).search(
            text, platform=platform.value if platform else None, tags=tags, k=k
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False))
        return
    table = Table(title=f"{len(hits)} nearest to {text!r}")
    for col in ("similarity", "text", "kind", "platforms", "tags", "asset"):
        table.add_column(col)
    for h in hits:
        table.add_row(
            f"{h.similarity:.2f}",
            escape(h.text[:80]),
            str(h.kind.value if hasattr(h.kind, "value") else h.kind),
            ",".join(h.platforms),
            escape(
                ", ".join(f"{t.kind.value if hasattr(t.kind, 'value') else t.kind}:{t.value}" for t in h.tags)
            ),
            h.asset_id[:12],
        )
    make_console().print(table)


@creative_app.command("images")
def images(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="the source image"),
    platforms: str = typer.Option("all", "--platforms", help="all, or a comma list: meta,x,tiktok"),
    out: Path | None = typer.Option(None, "--out", help="also write the files here"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Every placement's size and aspect from one image, by subject-aware crop (or pad), checked against
    each platform's rules and kept in the library as variants of the source."""
    from tools.creative.images import process_images

    settings = cli_settings()
    engine, store, _ = _parts(settings)
    data = path.read_bytes()
    (result,) = process_images([(path.name, data)], platforms)
    if result.error is not None:
        make_console().print(f"[red]{escape(path.name)}[/red]: {escape(result.error.message)}")
        raise typer.Exit(code=1)
    source = store.put(data, AssetMeta(kind=AssetKind.IMAGE, source=f"file:{path.name}", label=path.name))
    rows = []
    for f in result.files:
        v = f.variant
        record = store.put(
            f.data,
            AssetMeta(
                kind=AssetKind.IMAGE,
                parent_id=source.id,
                source=f"crop:{v.method}",
                label=f"{v.platform} {v.placement} {v.aspect}",
            ),
        )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (
                out
                / f"{path.stem}_{v.platform}_{v.placement}_{v.aspect.replace(':', 'x')}.{f.format.lower()}"
            ).write_bytes(f.data)
        rows.append(
            {
                "asset_id": record.id,
                "platform": v.platform,
                "placement": v.placement,
                "aspect": v.aspect,
                "size": list(v.size),
                "method": v.method,
                "ok": f.check.ok,
                "actions": f.actions,
            }
        )
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({"source": source.id, "variants": rows}))
        return
    table = Table(title=f"{len(rows)} variants of {path.name}")
    for col in ("platform", "placement", "aspect", "size", "method", "checks", "asset"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["platform"],
            r["placement"],
            r["aspect"],
            "x".join(map(str, r["size"])),
            r["method"],
            "ok" if r["ok"] else "[red]fails[/red]",
            r["asset_id"][:12],
        )
    make_console().print(table)


@creative_app.command("import")
def import_dir(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="images, videos and .txt copy"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Put every image, video and text file of FOLDER in the library (each once, by content); a bad
    file is reported and the rest go on."""
    from tools.creative.decode import load_image
    from tools.creative.video import probe_video

    settings = cli_settings()
    engine, store, index = _parts(settings)
    done, failed, docs = [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        try:
            data = path.read_bytes()
            if suffix in IMAGE_SUFFIXES:
                load_image(data)  # refuses corrupt, huge or unsupported files before they are stored
                record = store.put(
                    data, AssetMeta(kind=AssetKind.IMAGE, source=f"import:{path.name}", label=path.stem)
                )
                docs.append(
                    CreativeDoc(asset_id=record.id, kind=AssetKind.IMAGE, text=path.stem.replace("_", " "))
                )
            elif suffix in VIDEO_SUFFIXES:
                info = probe_video(path)
                record = store.put(
                    data,
                    AssetMeta(
                        kind=AssetKind.VIDEO,
                        source=f"import:{path.name}",
                        label=path.stem,
                        width=info.width,
                        height=info.height,
                        duration_ms=int(info.duration_s * 1000),
                    ),
                )
                docs.append(
                    CreativeDoc(asset_id=record.id, kind=AssetKind.VIDEO, text=path.stem.replace("_", " "))
                )
            elif suffix == ".txt":
                text = data.decode("utf-8").strip()
                record = store.put(
                    data, AssetMeta(kind=AssetKind.TEXT, source=f"import:{path.name}", label=text[:200])
                )
                docs.append(CreativeDoc(asset_id=record.id, text=text))
            else:
                failed.append({"file": str(path), "error": f"unsupported file type {suffix or '(none)'}"})
                continue
            done.append({"file": str(path), "asset_id": record.id, "kind": record.kind})
        except (CreativeError, ValueError, OSError, UnicodeDecodeError) as exc:
            failed.append({"file": str(path), "error": f"{type(exc).__name__}: {exc}"})
    if docs:
        index.index(docs)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({"imported": done, "failed": failed}, default=str))
    else:
        console = make_console()
        console.print(f"imported {len(done)} file(s) into the library ({settings.assets_root})")
        for f in failed:
            console.print(f"[yellow]skipped[/yellow] {escape(f['file'])}: {escape(f['error'])}")
    if failed and not done:
        raise typer.Exit(code=1)
