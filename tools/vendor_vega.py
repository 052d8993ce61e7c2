"""Vendor the Vega scripts of ``dvc plots show`` / ``dvc plots diff`` pages.

dvc-render's own page loads vega, vega-lite and vega-embed from a CDN, so it
is blank without network. The template the project gives DVC instead
(``plots.html_template`` in ``.dvc/config``: ``.dvc/plots/offline-page.html``)
carries the same three builds inline, byte for byte as their npm packages
ship them, and their licences sit beside it in ``.dvc/plots/vega-licenses.txt``.

    python -m tools.vendor_vega     # after upgrading dvc-render

It reads the versions the installed dvc-render loads, installs exactly those
with npm into a temporary folder and rewrites both files. Only this step needs
npm and its registry; users and CI only read the committed files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dvc_render.html import PAGE_HTML
from dvc_render.vega import VegaRenderer

ROOT = Path(__file__).resolve().parents[1]
PLOTS_DIR = ROOT / ".dvc" / "plots"
TEMPLATE = PLOTS_DIR / "offline-page.html"
LICENSES = PLOTS_DIR / "vega-licenses.txt"
# Load order: vega-lite needs vega, vega-embed needs both.
PACKAGES = ("vega", "vega-lite", "vega-embed")
SCRIPTS_MARK = "<!-- vendored scripts -->"
# Dependencies that serve only Node or a package's command-line tools (vega-lite's
# vl2png, d3-dsv's and d3-geo-projection's converters, fetching files in Node):
# the browser builds hold none of them, so neither does the licence file.
NODE_ONLY = {"yargs", "node-fetch", "commander", "iconv-lite", "rw", "resolve"}
# what dvc-render's HTML.embed replaces in a template, by plain str.replace
PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")

# dvc-render's own default page (PAGE_HTML), plus a charset (the builds hold
# a few non-ASCII characters, and a page opened from disk is not read as UTF-8
# otherwise) and the scripts inlined where its {scripts} placeholder was. DVC
# fills the placeholders with str.replace, so the braces of the inlined
# JavaScript are safe; there is deliberately no scripts placeholder left,
# since DVC would put its CDN script tags there.
_ABOUT = """    <!-- The page of `dvc plots show` and `dvc plots diff` for this project: the
         scripts dvc-render @DVC_RENDER@ loads from a CDN are inlined below, so
         that it draws with no network. Written by `python -m tools.vendor_vega`;
         licences in vega-licenses.txt next to this file. -->
"""
PAGE = (
    PAGE_HTML.replace("<head>\n", '<head>\n    <meta charset="utf-8">\n', 1).replace(
        "    {scripts}\n", _ABOUT + SCRIPTS_MARK + "\n", 1
    )
    + "\n"
)

SCRIPT_BLOCK = re.compile(
    r"<script>\n/\* (?P<name>[\w-]+) (?P<version>\S+) (?P<file>\S+) "
    r"sha256:(?P<sha256>[0-9a-f]{64}) [^\n]*\*/\n(?P<code>.*?)</script>",
    re.S,
)


@dataclass(frozen=True)
class Script:
    """One vendored build: package, version, file inside the package, its text."""

    name: str
    version: str
    file: str
    code: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()


def pinned_versions(scripts_html: str = VegaRenderer.SCRIPTS) -> dict[str, str]:
    """The version of each Vega package that dvc-render's page loads, in load order."""
    found = dict(re.findall(r"/npm/(vega(?:-lite|-embed)?)@([0-9][\w.-]*)", scripts_html))
    if sorted(found) != sorted(PACKAGES):
        raise RuntimeError(f"expected {PACKAGES} in dvc-render's page scripts, found {found}")
    return {name: found[name] for name in PACKAGES}


def script_tag(script: Script) -> str:
    """An inline script, headed by what it is and the hash of the file it copies."""
    header = (
        f"/* {script.name} {script.version} {script.file} sha256:{script.sha256} "
        f"(from its npm package; licence in vega-licenses.txt) */"
    )
    return f"    <script>\n{header}\n{script.code}</script>"


def render_page(scripts: list[Script], dvc_render_version: str) -> str:
    """The html_template text: dvc-render's page with the scripts inlined."""
    for script in scripts:
        # '</script' would end the script early; DVC would fill a placeholder
        # inside the code as readily as one in the page
        for bad in ("</script", *PLACEHOLDERS):
            if bad in script.code.lower():
                raise RuntimeError(f"{script.name} {script.file} holds {bad!r}: cannot inline it")
    page = PAGE.replace("@DVC_RENDER@", dvc_render_version)
    return page.replace(SCRIPTS_MARK, "\n".join(script_tag(s) for s in scripts))


def inlined_scripts(page: str) -> list[tuple[Script, str]]:
    """Each inlined script of a page written by render_page, with the hash its header records."""
    return [
        (Script(m["name"], m["version"], m["file"], m["code"]), m["sha256"])
        for m in SCRIPT_BLOCK.finditer(page)
    ]


def npm_install(versions: dict[str, str], dest: Path) -> Path:
    """Install exactly these versions under ``dest``; return its node_modules folder."""
    specs = [f"{name}@{version}" for name, version in versions.items()]
    # vega-lite 5.2.0 declares vega ^5.21 as a peer while dvc-render pairs it
    # with vega 5.20.2; keep dvc-render's pairing (the plots tests draw it).
    flags = ["--no-save", "--ignore-scripts", "--legacy-peer-deps", "--no-audit", "--no-fund"]
    subprocess.run(
        ["npm", "install", "--prefix", str(dest), *flags, *specs],
        check=True,
        capture_output=True,
        text=True,
    )
    return dest / "node_modules"


def resolve(name: str, start: Path, top: Path) -> Path:
    """The folder node loads package ``name`` from when ``start`` requires it."""
    folder = start
    while True:
        candidate = folder / "node_modules" / name
        if candidate.is_dir():
            return candidate
        if folder == top:
            raise RuntimeError(f"{name}, a dependency of {start.name}, is not installed")
        folder = folder.parent


def dependency_closure(package: Path, top: Path, externals: set[str]) -> list[Path]:
    """``package`` and every package its ``dependencies`` pull in, except the externals.

    Peer dependencies are not followed: they are the externals (vega-embed
    expects vega and vega-lite as their own scripts).
    """
    found: list[Path] = []
    pending = [package]
    while pending:
        folder = pending.pop()
        if folder in found:
            continue
        found.append(folder)
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        pending += [
            resolve(dep, folder, top)
            for dep in manifest.get("dependencies", {})
            if dep not in externals
        ]
    return found


def licence_text(package: Path) -> str:
    """The licence files of one installed package, or a line saying there are none."""
    files = sorted(
        p
        for p in package.iterdir()
        if p.is_file() and re.match(r"(licen[cs]e|copying)", p.name, re.I)
    )
    if not files:
        return "(the package ships no licence file)"
    return "\n".join(p.read_text(encoding="utf-8", errors="replace").rstrip() for p in files)


def licences_file(node_modules: Path, versions: dict[str, str]) -> str:
    """The licence of each vendored build and of every package it is built from."""
    lines = [
        "Licences of the scripts inlined in offline-page.html (written by tools/vendor_vega.py).",
        "Each build bundles the browser code of its npm dependencies, listed after it as npm",
        "resolves them now (the build holds the versions of its day); those serving only",
        "Node or command-line tools are left out. The other vendored packages stay",
        "external: each is loaded as its own script.",
    ]
    seen: set[str] = set()
    top = node_modules.parent
    for name, version in versions.items():
        skipped = NODE_ONLY | set(versions) - {name}
        packages = dependency_closure(node_modules / name, top, skipped)
        lines += ["", "=" * 78, f"{name} {version} and its dependencies", "=" * 78]
        for folder in packages:
            manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
            title = f"{manifest['name']} {manifest['version']} ({manifest.get('license')})"
            if title in seen:
                lines.append(f"\n--- {title}: see above")
                continue
            seen.add(title)
            lines += ["", f"--- {title}", "", licence_text(folder)]
    return "\n".join(lines) + "\n"


def vendored_scripts(node_modules: Path, versions: dict[str, str]) -> list[Script]:
    """The minified browser build of each package (the file the CDN serves for it)."""
    scripts = []
    for name, version in versions.items():
        file = f"build/{name}.min.js"
        # bytes, not read_text: its newline translation would change the hash
        code = (node_modules / name / file).read_bytes().decode("utf-8")
        scripts.append(Script(name, version, file, code))
    return scripts


def main() -> None:
    versions = pinned_versions()
    with tempfile.TemporaryDirectory(prefix="nbml-vega-") as tmp:
        node_modules = npm_install(versions, Path(tmp))
        scripts = vendored_scripts(node_modules, versions)
        licences = licences_file(node_modules, versions)
    page = render_page(scripts, importlib.metadata.version("dvc-render"))
    TEMPLATE.write_text(page, encoding="utf-8")
    LICENSES.write_text(licences, encoding="utf-8")
    for script in scripts:
        print(f"{script.name} {script.version}: {len(script.code):,} bytes, sha256 {script.sha256}")
    print(
        f"wrote {TEMPLATE.relative_to(ROOT)} ({len(page):,} bytes) and {LICENSES.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
