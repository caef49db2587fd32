"""Build the Go tools autocloud runs (Pulumi CLI, language host, Kubernetes provider, control plane, node).

Nothing prebuilt can be downloaded on the machines this runs on, but the Go module proxy answers, so
every tool is built from its module. Versions live in `toolchain/versions.json`; each tool's build
inputs (its version entry, its wrapper module under `toolchain/go/<tool>/`, the Go version) are
hashed into a stamp, and a tool whose stamp matches is not rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from platform_model.errors import AutocloudError, ConfigError
from platform_model.local_images import VERSIONS_FILE as VERSIONS_FILE
from platform_model.local_images import pinned_versions
from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN, TOOLCHAIN_DIR

TOOLCHAIN_SRC = REPO_ROOT / "toolchain"
WRAPPERS = TOOLCHAIN_SRC / "go"
"""Wrapper modules that pin upstream tools (a go.mod, sometimes a small main)."""
OWN_PROGRAMS = REPO_ROOT / "cmd"
"""The platform's own Go programs (product code): built like the wrappers, by their folder's name."""
STAMPS = TOOLCHAIN_DIR / "stamps"
LOGS = TOOLCHAIN_DIR / "logs"
WORK = TOOLCHAIN_DIR / "src"

HEARTBEAT_SECONDS = 30.0


class ToolchainError(AutocloudError):
    """A build step failed or a prerequisite is missing; the message is one line for the user."""


@dataclass(frozen=True)
class Tool:
    """One buildable tool: the binaries it installs (paths under `.toolchain/bin`, e.g. `cni/bridge`)
    and how to build them."""

    name: str
    binaries: tuple[str, ...]
    build: Callable[[Builder, dict[str, str]], None]


def load_versions(path: Path = VERSIONS_FILE) -> dict[str, dict[str, str]]:
    """The pinned versions (a toolchain error when the file is unreadable)."""
    try:
        return pinned_versions(path)
    except ConfigError as exc:
        raise ToolchainError(str(exc)) from None


def source_dir(tool: str) -> Path:
    """Where a tool's Go module lives: our own programs under cmd/, pinned upstream tools under toolchain/go/."""
    own = OWN_PROGRAMS / tool
    return own if own.is_dir() else WRAPPERS / tool


def wrapper_digest(tool: str, wrappers: Path | None = None) -> str:
    """Hash every file of a tool's module folder, so an edited go.mod or source triggers a rebuild."""
    digest = hashlib.sha256()
    folder = wrappers / tool if wrappers else source_dir(tool)
    if folder.is_dir():
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(file.relative_to(folder).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def stamp_for(tool: str, entry: dict[str, str], go_version: str, wrappers: Path | None = None) -> str:
    payload = json.dumps(
        {"tool": tool, "entry": entry, "go": go_version, "wrapper": wrapper_digest(tool, wrappers)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def is_current(tool: Tool, stamp: str, bin_dir: Path = TOOLCHAIN_BIN, stamps: Path = STAMPS) -> bool:
    stamp_file = stamps / f"{tool.name}.stamp"
    if not stamp_file.is_file() or stamp_file.read_text().strip() != stamp:
        return False
    return all((bin_dir / binary).is_file() for binary in tool.binaries)


def write_stamp(tool: Tool, stamp: str, stamps: Path = STAMPS) -> None:
    stamps.mkdir(parents=True, exist_ok=True)
    (stamps / f"{tool.name}.stamp").write_text(stamp + "\n")


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolchainError(
            "toolchain: the `go` command is not on PATH; install Go 1.26 or newer to build the Pulumi engine"
        )
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise ToolchainError(f"toolchain: `go env GOVERSION` failed: {out.stderr.strip()}")
    return out.stdout.strip()


class Builder:
    """Runs build commands with a log file per tool and a progress heartbeat."""

    def __init__(self, bin_dir: Path = TOOLCHAIN_BIN, echo: Callable[[str], None] = print) -> None:
        self.bin_dir = bin_dir
        self.echo = echo
        self.log: Path = LOGS / "toolchain.log"
        self.env = {
            **os.environ,
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
            "GOFLAGS": "-buildvcs=false",
        }

    def run(self, args: Iterable[str], cwd: Path, extra_env: dict[str, str] | None = None) -> str:
        argv = list(args)
        env = {**self.env, **(extra_env or {})}
        with self.log.open("a") as log:
            log.write(f"\n$ (cd {cwd}) {' '.join(argv)}\n")
            log.flush()
            proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
            log.write(proc.stdout)
        if proc.returncode != 0:
            raise ToolchainError(f"toolchain: `{' '.join(argv[:3])} ...` failed in {cwd}; see {self.log}")
        return proc.stdout

    def module_dir(self, module: str, version: str) -> Path:
        """Download a module into the module cache and return its (read-only) directory."""
        out = self.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=WRAPPERS)
        info = json.loads(out)
        if "Error" in info:
            raise ToolchainError(f"toolchain: {module}@{version} cannot be downloaded: {info['Error']}")
        return Path(info["Dir"])

    def go_build(
        self,
        wrapper: str,
        packages: list[str],
        output: Path,
        ldflags: str = "",
        tags: Iterable[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """Build packages in a wrapper module; `output` is a file, or a folder for several commands."""
        args = ["go", "build", "-trimpath", "-o", str(output)]
        if tags:
            args += ["-tags", ",".join(tags)]
        if ldflags:
            args += ["-ldflags", ldflags]
        self.run([*args, *packages], cwd=source_dir(wrapper), extra_env=extra_env)


def _build_pulumi(b: Builder, v: dict[str, str]) -> None:
    version_var = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
    b.run(
        [
            "go",
            "build",
            "-trimpath",
            "-tags",
            "osusergo,grpcnotrace",
            "-ldflags",
            f"-s -w -X {version_var}={v['version']}",
            "-o",
            str(b.bin_dir / "pulumi"),
            "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        ],
        cwd=WRAPPERS / "pulumi",
    )


DYNAMIC_PROVIDER_SHIM = "pulumi-resource-pulumi-python"
"""The plugin the engine runs for Python dynamic resources, a shell script in the Python SDK's ``dist``."""


def _build_language_python(b: Builder, v: dict[str, str]) -> None:
    b.go_build(
        "language-python",
        ["."],
        b.bin_dir / "pulumi-language-python",
        ldflags=f"-s -w -X main.version={v['version'].lstrip('v')}",
    )
    sdk = b.module_dir(v["module"], v["version"]) / "python"
    # The exec script runs programs; the dynamic provider shim runs `python -m pulumi.dynamic` in the
    # project's virtualenv for dynamic resources (components/stack_secret.py). The engine finds both
    # beside itself, as in Pulumi's own release.
    for script in (sdk / "cmd" / "pulumi-language-python-exec", sdk / "dist" / DYNAMIC_PROVIDER_SHIM):
        target = b.bin_dir / script.name
        shutil.copyfile(script, target)
        target.chmod(0o755)


def _writable_copy(b: Builder, tool: str, v: dict[str, str]) -> Path:
    """A fresh writable copy of a pinned module under WORK, with the tool's go.mod/go.sum laid over it."""
    source = b.module_dir(v["module"], v["version"])
    work = WORK / tool
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work)
    for path in [work, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    for name in ("go.mod", "go.sum"):
        shutil.copyfile(WRAPPERS / tool / name, work / name)
    return work


def _build_kubernetes_provider(b: Builder, v: dict[str, str]) -> None:
    # The provider's go.mod points its SDK at a sibling folder and embeds generated schema files,
    # so it is built from a writable copy with our pinned go.mod/go.sum laid over it.
    work = _writable_copy(b, "kubernetes-provider", v)
    cmd_dir = work / "cmd" / "pulumi-resource-kubernetes"
    b.run(["go", "run", "generate.go"], cwd=cmd_dir, extra_env={"VERSION": v["plugin_version"]})
    version_var = "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version"
    b.run(
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            f"-s -w -X {version_var}={v['plugin_version']}",
            "-o",
            str(b.bin_dir / "pulumi-resource-kubernetes"),
            "./cmd/pulumi-resource-kubernetes",
        ],
        cwd=work,
    )


def _build_etcd(b: Builder, v: dict[str, str]) -> None:
    b.go_build("etcd", [v["module"]], b.bin_dir / "etcd", ldflags="-s -w")


# The control plane, the node agents, and kubectl (the integration tests drive the cluster with it).
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl")


def _build_kube(b: Builder, v: dict[str, str]) -> None:
    major, minor = v["version"].lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    ldflags = " ".join(
        [
            "-s -w",
            f"-X {pkg}.gitVersion={v['version']}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    )
    commands = [f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS]
    # One go build for all of them so the packages they share (client-go, apiserver libraries) compile once.
    b.go_build("kube", commands, b.bin_dir, ldflags=ldflags)


# The node's container runtime: containerd with its runc shim, runc, and the CNI plugins.

# Upstream's static release build (`make STATIC=1`: urfave_cli_no_docs osusergo netgo static_build) without
# the snapshotters a node here never uses: btrfs needs cgo and kernel headers, devmapper and zfs need their
# host tools; overlayfs and native stay.
CONTAINERD_TAGS = ("urfave_cli_no_docs", "no_btrfs", "no_devmapper", "no_zfs", "osusergo", "netgo", "static_build")


def _build_containerd(b: Builder, v: dict[str, str]) -> None:
    pkg = v["module"]
    ldflags = f"-s -w -X {pkg}/version.Version={v['version']}"
    b.go_build("containerd", [f"{pkg}/cmd/containerd", f"{pkg}/cmd/ctr"], b.bin_dir, ldflags, CONTAINERD_TAGS)
    # The shim speaks only ttrpc; upstream builds it with `no_grpc` on top, which keeps it small (one runs per pod).
    b.go_build(
        "containerd",
        [f"{pkg}/cmd/containerd-shim-runc-v2"],
        b.bin_dir / "containerd-shim-runc-v2",
        ldflags,
        (*CONTAINERD_TAGS, "no_grpc"),
    )


SECCOMP_HEADER = Path("/usr/include/seccomp.h")


def _build_runc(b: Builder, v: dict[str, str]) -> None:
    # runc applies seccomp profiles (kubelet's RuntimeDefault) through libseccomp, so it is the one cgo
    # build: Debian's libseccomp-dev, gcc and pkg-config come from `make system-deps`.
    missing = [
        name
        for name, found in (
            ("gcc", shutil.which("gcc")),
            ("pkg-config", shutil.which("pkg-config")),
            ("libseccomp-dev", SECCOMP_HEADER.is_file()),
        )
        if not found
    ]
    if missing:
        raise ToolchainError(
            f"toolchain: runc builds with cgo against libseccomp; missing {', '.join(missing)}: run `make system-deps`"
        )
    # Same flags as upstream's `make runc` (a PIE linked against the host's libseccomp.so).
    b.run(
        [
            "go",
            "build",
            "-trimpath",
            "-buildmode=pie",
            "-tags",
            "seccomp,urfave_cli_no_docs",
            "-ldflags",
            "-s -w",
            "-o",
            str(b.bin_dir / "runc"),
            v["module"],
        ],
        cwd=WRAPPERS / "runc",
        extra_env={"CGO_ENABLED": "1"},
    )


CNI_DIR = "cni"
CNI_PLUGINS = ("main/bridge", "main/ptp", "main/loopback", "ipam/host-local", "meta/portmap")


def _build_cni_plugins(b: Builder, v: dict[str, str]) -> None:
    # A folder of their own: it is containerd's CNI bin_dir, where plugins are looked up by their type name.
    out = b.bin_dir / CNI_DIR
    out.mkdir(parents=True, exist_ok=True)
    version_var = f"{v['module']}/pkg/utils/buildversion.BuildVersion"
    b.go_build(
        "cni-plugins",
        [f"{v['module']}/plugins/{p}" for p in CNI_PLUGINS],
        out,
        ldflags=f"-s -w -X {version_var}={v['version']}",
    )


def _build_pause(b: Builder, v: dict[str, str]) -> None:
    # Our own few lines (toolchain/go/pause): a sandbox's PID 1 that reaps zombies and exits 0 on SIGTERM.
    b.go_build("pause", ["."], b.bin_dir / "pause", ldflags=f"-s -w -X main.version={v['version']}")


def _build_ingest(b: Builder, v: dict[str, str]) -> None:
    # Our own (cmd/ingest): the local target's IoT Hub, run on the node as autocloud.local/ingest.
    b.go_build("ingest", ["."], b.bin_dir / "autocloud-ingest", ldflags=f"-s -w -X main.version={v['version']}")


def _build_coredns(b: Builder, v: dict[str, str]) -> None:
    # Our main (toolchain/go/coredns) compiles in only the cluster-DNS plugins; upstream's build links every
    # cloud DNS SDK too.
    b.go_build("coredns", ["."], b.bin_dir / "coredns", ldflags="-s -w")


def _build_kube_router(b: Builder, v: dict[str, str]) -> None:
    # Run only as the NetworkPolicy firewall (iptables + ipset); routing and service proxy stay off.
    pkg = f"{v['module']}/pkg/version"
    ldflags = f"-s -w -X {pkg}.Version={v['version']} -X {pkg}.BuildDate=1970-01-01T00:00:00Z"
    b.go_build("kube-router", [f"{v['module']}/cmd/kube-router"], b.bin_dir / "kube-router", ldflags=ldflags)


def _build_ferretdb(b: Builder, v: dict[str, str]) -> None:
    # FerretDB takes its version from files embedded from build/version/ (written by its `task gen-version`
    # from git), and reads them only when FerretDB itself is the main module: so it is built from a copy,
    # as its production image is (CGO off, GOAMD64=v1, no debug tag). Only the SQLite backend runs here,
    # so the PostgreSQL one is left out.
    work = _writable_copy(b, "ferretdb", v)
    _patch_ferretdb(work)
    version_dir = work / "build" / "version"
    (version_dir / "version.txt").write_text(v["version"] + "\n")
    (version_dir / "package.txt").write_text("autocloud\n")
    b.run(
        [
            "go",
            "build",
            "-trimpath",
            "-tags",
            "ferretdb_no_postgresql",
            "-ldflags",
            "-s -w",
            "-o",
            str(b.bin_dir / "ferretdb"),
            "./cmd/ferretdb",
        ],
        cwd=work,
        extra_env={"GOAMD64": "v1"},
    )


@dataclass(frozen=True)
class SourcePatch:
    """A text replacement in FerretDB's build copy; the build fails unless ``upstream`` is there once and
    ``patched`` is not."""

    name: str
    path: Path
    upstream: str
    patched: str


FERRETDB_ID_LOOKUP = SourcePatch(
    "FERRETDB_ID_LOOKUP",
    Path("internal/backends/sqlite/metadata/metadata.go"),
    "IDColumn = DefaultColumn + \"->'$._id'\"",
    "IDColumn = DefaultColumn + \"->'_id'\"",
)
"""FerretDB 1.24's SQLite backend indexes ``_id`` as ``_ferretdb_sjson->"_id"`` but looks documents up by
``_ferretdb_sjson->'$._id'``. Both name the same value (for ``->``, "a text label X ... is interpreted as
the JSON path '$.X'", https://www.sqlite.org/json1.html#jptr), yet SQLite uses an index on an expression
only for that same expression ("the query planner does not do algebra",
https://www.sqlite.org/expridx.html), so every lookup by ``_id`` scanned the collection and parsed each
document: 18 ms per state write at 1,000 vehicles, 78% of FerretDB's CPU in ``json_extract``. The lookup
is rewritten to the index's expression in the build copy."""

_SJSON_DOUBLE = Path("internal/handler/sjson/double.go")
_DOUBLE_HEAD = """func (d *doubleType) UnmarshalJSON(data []byte) error {
\tif bytes.Equal(data, []byte("null")) {
\t\tpanic("null data")
\t}
"""
_DOUBLE_TAIL = """var (
\t_ sjsontype = (*doubleType)(nil)
)
"""
FERRETDB_PLAIN_DOUBLES = (
    SourcePatch(
        "FERRETDB_PLAIN_DOUBLES",
        _SJSON_DOUBLE,
        _DOUBLE_HEAD,
        _DOUBLE_HEAD
        + """
\t// autocloud: a plain JSON number, what MarshalJSON writes, needs no json.Decoder of its own.
\tif f, ok := plainJSONNumber(data); ok {
\t\t*d = doubleType(f)
\t\treturn nil
\t}
""",
    ),
    SourcePatch("FERRETDB_PLAIN_DOUBLES", _SJSON_DOUBLE, '\t"encoding/json"\n', '\t"encoding/json"\n\t"strconv"\n'),
    SourcePatch(
        "FERRETDB_PLAIN_DOUBLES",
        _SJSON_DOUBLE,
        _DOUBLE_TAIL,
        _DOUBLE_TAIL
        + """
// plainJSONNumber parses data if it is a JSON number (RFC 8259, section 6) within float64's range, as
// encoding/json would; anything else is left to the decoder.
func plainJSONNumber(data []byte) (float64, bool) {
\ts, i := string(data), 0
\tdigits := func() int {
\t\tn := 0
\t\tfor ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
\t\t\tn++
\t\t}
\t\treturn n
\t}
\tif i < len(s) && s[i] == '-' {
\t\ti++
\t}
\tif first := i; digits() == 0 || (s[first] == '0' && i-first > 1) {
\t\treturn 0, false
\t}
\tif i < len(s) && s[i] == '.' {
\t\ti++
\t\tif digits() == 0 {
\t\t\treturn 0, false
\t\t}
\t}
\tif i < len(s) && (s[i] == 'e' || s[i] == 'E') {
\t\ti++
\t\tif i < len(s) && (s[i] == '+' || s[i] == '-') {
\t\t\ti++
\t\t}
\t\tif digits() == 0 {
\t\t\treturn 0, false
\t\t}
\t}
\tif i != len(s) {
\t\treturn 0, false
\t}
\tf, err := strconv.ParseFloat(s, 64)
\treturn f, err == nil
}
""",
    ),
)
"""FerretDB 1.24 reads each stored double with a ``json.Decoder`` of its own, and reads a document back on
every update: a vehicle's state with the fleet's 250 cell voltages cost a fifth of the store's CPU in
those decoders alone. A plain number is parsed with ``strconv.ParseFloat`` (what the decoder calls), the
rest still by the decoder."""

FERRETDB_PATCHES = (FERRETDB_ID_LOOKUP, *FERRETDB_PLAIN_DOUBLES)


def _patch_ferretdb(work: Path, patches: Sequence[SourcePatch] = FERRETDB_PATCHES) -> None:
    for patch in patches:
        source = (work / patch.path).read_text()
        # Patched text that keeps the upstream text (an insertion) must not be there already either.
        if source.count(patch.upstream) != 1 or patch.patched in source:
            raise ToolchainError(f"ferretdb: {patch.path} no longer reads {patch.upstream!r} once; review {patch.name}")
        (work / patch.path).write_text(source.replace(patch.upstream, patch.patched))


def _build_statewriter(b: Builder, v: dict[str, str]) -> None:
    # Our own program (cmd/statewriter): Kafka telemetry -> each vehicle's last state in the docstore.
    b.go_build(
        "statewriter", ["."], b.bin_dir / "autocloud-statewriter", ldflags=f"-s -w -X main.version={v['version']}"
    )


def _build_fleetsim(b: Builder, v: dict[str, str]) -> None:
    # Our own program (cmd/fleetsim): the load generator `autocloud simulate` drives up to 10,000 vehicles with.
    b.go_build("fleetsim", ["."], b.bin_dir / "autocloud-fleetsim", ldflags=f"-s -w -X main.version={v['version']}")


KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


def _build_kwok(b: Builder, v: dict[str, str]) -> None:
    b.run(
        [
            "go",
            "install",
            "-trimpath",
            "-ldflags",
            "-s -w",
            f"{v['module']}/cmd/kwok@{v['version']}",
            f"{v['module']}/cmd/kwokctl@{v['version']}",
        ],
        cwd=WRAPPERS,
        extra_env={"GOBIN": str(b.bin_dir)},
    )
    # kwok simulates nodes and pods only through Stage objects; take the ones its release ships.
    stages = b.module_dir(v["module"], v["version"]) / "kustomize" / "stage"
    documents = [(stages / rel).read_text().strip() for rel in KWOK_STAGES]
    (b.bin_dir / "kwok-stages.yaml").write_text("\n---\n".join(documents) + "\n")


def _build_actionlint(b: Builder, v: dict[str, str]) -> None:
    # A plain `go install module@version` records the version in the binary (`actionlint -version`).
    b.run(
        ["go", "install", "-trimpath", "-ldflags", "-s -w", f"{v['module']}/cmd/actionlint@{v['version']}"],
        cwd=WRAPPERS,
        extra_env={"GOBIN": str(b.bin_dir)},
    )


# Built one after another in this order: the engine every integration test drives, the control plane
# (with KWOK's simulated node), the real node's runtime, its add-ons and the platform's own programs (run
# as images on the node), then the workflow linter. Each go build already compiles packages on both cores,
# so two builds side by side would mostly just compete.
TOOLS: tuple[Tool, ...] = (
    Tool("pulumi", ("pulumi",), _build_pulumi),
    Tool(
        "language-python",
        ("pulumi-language-python", "pulumi-language-python-exec", DYNAMIC_PROVIDER_SHIM),
        _build_language_python,
    ),
    Tool("kubernetes-provider", ("pulumi-resource-kubernetes",), _build_kubernetes_provider),
    Tool("etcd", ("etcd",), _build_etcd),
    Tool("kube", KUBE_COMMANDS, _build_kube),
    Tool("kwok", ("kwok", "kwokctl", "kwok-stages.yaml"), _build_kwok),
    Tool("pause", ("pause",), _build_pause),
    Tool("runc", ("runc",), _build_runc),
    Tool("cni-plugins", tuple(f"{CNI_DIR}/{Path(p).name}" for p in CNI_PLUGINS), _build_cni_plugins),
    Tool("containerd", ("containerd", "containerd-shim-runc-v2", "ctr"), _build_containerd),
    Tool("coredns", ("coredns",), _build_coredns),
    Tool("ingest", ("autocloud-ingest",), _build_ingest),
    Tool("kube-router", ("kube-router",), _build_kube_router),
    Tool("actionlint", ("actionlint",), _build_actionlint),
    Tool("ferretdb", ("ferretdb",), _build_ferretdb),
    Tool("statewriter", ("autocloud-statewriter",), _build_statewriter),
    Tool("fleetsim", ("autocloud-fleetsim",), _build_fleetsim),
)


TARGET_TOOLS: dict[str, tuple[str, ...]] = {
    "azure": ("pulumi", "language-python", "statewriter"),
    "local": tuple(tool.name for tool in TOOLS),
}
"""What each deployment target needs built. The Azure stacks run the engine and the Python language host
(their resources come from the azure-native plugin, installed separately, docs/engine.md) and push the
image of the one program they deliver to AKS, the state writer (``autocloud images push``); they start no
local cluster or node. The local target needs every tool."""


def tools_for(target: str) -> tuple[str, ...]:
    """The tool names `target` needs (`autocloud toolchain build --only TARGET`)."""
    try:
        return TARGET_TOOLS[target]
    except KeyError:
        raise ToolchainError(f"toolchain: unknown target {target!r} (one of {', '.join(TARGET_TOOLS)})") from None


PULUMI_HOME = TOOLCHAIN_DIR / "pulumi-home"


def plugin_dir(versions: dict[str, dict[str, str]]) -> Path:
    return PULUMI_HOME / "plugins" / f"resource-kubernetes-v{versions['kubernetes-provider']['plugin_version']}"


def install_plugins(versions: dict[str, dict[str, str]], echo: Callable[[str], None] = print) -> None:
    """Put the provider in the plugin cache under the exact version the Python SDK asks for, so the
    engine finds it by version rather than as an unversioned binary on PATH."""
    binary = TOOLCHAIN_BIN / "pulumi-resource-kubernetes"
    target = plugin_dir(versions) / binary.name
    if not binary.is_file() or not (TOOLCHAIN_BIN / "pulumi").is_file():
        return
    if target.is_file() and target.stat().st_size == binary.stat().st_size:
        return
    version = versions["kubernetes-provider"]["plugin_version"]
    echo(f"toolchain: installing resource plugin kubernetes v{version} into {PULUMI_HOME.relative_to(REPO_ROOT)}")
    LOGS.mkdir(parents=True, exist_ok=True)
    builder = Builder()
    builder.log = LOGS / "plugins.log"
    builder.run(
        [
            str(TOOLCHAIN_BIN / "pulumi"),
            "plugin",
            "install",
            "resource",
            "kubernetes",
            version,
            "--file",
            str(binary),
            "--reinstall",
        ],
        cwd=REPO_ROOT,
        extra_env={"PULUMI_HOME": str(PULUMI_HOME), "PULUMI_SKIP_UPDATE_CHECK": "true"},
    )


def build(only: Iterable[str] | None = None, echo: Callable[[str], None] = print) -> list[str]:
    """Build every tool whose stamp is stale; returns the names that were built."""
    versions = load_versions()
    wanted = set(only) if only else {t.name for t in TOOLS}
    unknown = wanted - {t.name for t in TOOLS}
    if unknown:
        raise ToolchainError(f"toolchain: unknown tool(s) {', '.join(sorted(unknown))}")
    tools = [t for t in TOOLS if t.name in wanted]
    for tool in tools:
        if tool.name not in versions:
            raise ToolchainError(f"{VERSIONS_FILE}: {tool.name}: no pinned version")

    go = go_version()
    pending = [
        (tool, stamp) for tool in tools if not is_current(tool, stamp := stamp_for(tool.name, versions[tool.name], go))
    ]
    if not pending:
        install_plugins(versions, echo)
        return []

    TOOLCHAIN_BIN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    builder = Builder(echo=echo)
    built = []
    _ModulePrefetch([tool for tool, _ in pending[1:]], versions).start()
    for index, (tool, stamp) in enumerate(pending, start=1):
        entry = versions[tool.name]
        builder.log = LOGS / f"{tool.name}.log"
        builder.log.write_text("")
        echo(
            f"[{index}/{len(pending)}] building {tool.name} ({entry['module']} {entry['version']}), "
            f"log: {builder.log.relative_to(REPO_ROOT)}"
        )
        started = time.monotonic()
        with _heartbeat(tool.name, started, echo):
            tool.build(builder, entry)
        write_stamp(tool, stamp)
        built.append(tool.name)
        seconds = time.monotonic() - started
        record_build_time(tool.name, seconds)
        echo(f"[{index}/{len(pending)}] {tool.name} built in {seconds:.0f}s")
    if "kubernetes-provider" in built:
        plugin_dir(versions).joinpath("pulumi-resource-kubernetes").unlink(missing_ok=True)
    install_plugins(versions, echo)
    return built


class _ModulePrefetch(threading.Thread):
    """Download the modules of the tools still to come while the current one compiles.

    A cold `go build` fetches modules one dependency at a time and leaves the cores idle meanwhile; fetching
    the next tools' modules during the current build overlaps that wait with compiling. The module cache
    is safe to share between concurrent go commands, and a failed download here only costs the later build
    its own attempt, so errors go to the log and nowhere else.
    """

    def __init__(self, tools: list[Tool], versions: dict[str, dict[str, str]]) -> None:
        super().__init__(name="toolchain-prefetch", daemon=True)
        self.tools, self.versions = tools, versions
        self.builder = Builder(echo=lambda _line: None)
        self.builder.log = LOGS / "prefetch.log"

    def run(self) -> None:
        self.builder.log.write_text("")
        for tool in self.tools:
            for argv, cwd in _download_commands(tool.name, self.versions[tool.name]):
                try:
                    self.builder.run(argv, cwd=cwd)
                except ToolchainError:
                    continue


def _download_commands(tool: str, entry: dict[str, str]) -> list[tuple[list[str], Path]]:
    """`go mod download` of the pinned upstream module, and of everything its build module requires."""
    commands: list[tuple[list[str], Path]] = []
    if not entry["module"].startswith("autocloud.local/"):
        commands.append((["go", "mod", "download", f"{entry['module']}@{entry['version']}"], REPO_ROOT))
    if (source_dir(tool) / "go.mod").is_file():
        commands.append((["go", "mod", "download"], source_dir(tool)))
    return commands


BUILD_TIMES = TOOLCHAIN_DIR / "build-times.json"


def record_build_time(tool: str, seconds: float) -> None:
    """Keep the last build duration per tool, for `make bench` to report cold-build figures."""
    try:
        times = json.loads(BUILD_TIMES.read_text())
    except (OSError, ValueError):
        times = {}
    times[tool] = {"seconds": round(seconds, 1), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    BUILD_TIMES.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")


class _heartbeat:
    """Print a line every HEARTBEAT_SECONDS so a long build never looks hung."""

    def __init__(self, name: str, started: float, echo: Callable[[str], None]) -> None:
        self.name, self.started, self.echo = name, started, echo
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            self.echo(f"      ... still building {self.name} ({time.monotonic() - self.started:.0f}s)")

    def __enter__(self) -> _heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
