#!/usr/bin/python3
# crossfarm's plugin host: runs BuildStream 1.x Python plugins (local Element
# and Source plugins of a project) for crossfarm, which is C++. One process
# serves every request of one crossfarm command; crossfarm talks to it over
# stdin/stdout with length-prefixed JSON frames (docs/plugins.md, version 1).
#
# The plugins get Debian's python3-buildstream 1.6 API (Element, BuildElement,
# ScriptElement, Source, Sandbox, the node helpers); this file supplies only
# the parts of bst's internals that API reaches for (variables, environment,
# dependencies' public data, messages, the mirror directory), and a Sandbox
# whose run() asks crossfarm to run the command in the job's sandbox.
import contextlib
import hashlib
import importlib.util
import json
import os
import struct
import sys
import traceback

PROTOCOL_VERSION = 1
MAX_FRAME = 64 << 20

# The protocol owns the process's original stdout; anything a plugin prints
# (or a library writes to fd 1) goes to stderr instead, never onto the pipe.
_PROTO_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
_PROTO_IN = os.fdopen(os.dup(0), "rb", buffering=0)
os.dup2(2, 1)
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
sys.stdout = sys.stderr

import ruamel.yaml  # noqa: E402  (after the fd set-up above)
from buildstream import _yaml  # noqa: E402
from buildstream import Element, Sandbox, Scope, Source, Consistency  # noqa: E402
from buildstream._variables import Variables  # noqa: E402


class ProtocolError(Exception):
    pass


def _read_exact(n):
    data = b""
    while len(data) < n:
        chunk = _PROTO_IN.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame():
    (size,) = struct.unpack(">I", _read_exact(4))
    if size > MAX_FRAME:
        raise ProtocolError("frame of {} bytes".format(size))
    return json.loads(_read_exact(size).decode("utf-8"))


def write_frame(obj):
    data = json.dumps(obj, sort_keys=True).encode("utf-8")
    _PROTO_OUT.write(struct.pack(">I", len(data)) + data)


class Log:
    """What a request's plugin said (messages and prints), sent with the next
    frame; a file object so print() can write to it."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass

    def take(self):
        text = "".join(self.parts)
        self.parts = []
        return text


LOG = Log()


def _node(obj, filename):
    """A bst YAML node (dicts with provenance) from JSON-able data. Emitted as
    block YAML, not JSON: keys must load as plain str, as from a .bst file."""
    text = ruamel.yaml.safe_dump(obj, default_flow_style=False)
    return _yaml.load_data(text, _yaml.ProvenanceFile(filename, filename, None))


class HostContext:
    """What Plugin reads of bst's Context outside the methods we override."""
    log_debug = False


class HostProject:
    """The few Project attributes the plugin API reads."""

    def __init__(self, req):
        self.name = req.get("project_name", "")
        self.directory = req.get("project_dir", "")
        self.junction = None
        self._aliases = req.get("aliases", {})

    def get_alias_uri(self, alias, *, first_pass=False):
        return self._aliases.get(alias)

    def translate_url(self, url, *, first_pass=False):
        alias, sep, rest = url.partition(":")
        if sep and alias in self._aliases:
            return self._aliases[alias] + rest
        return url


class HostPluginMixin:
    """Overrides of Plugin internals that would need bst's Context."""

    def _Plugin__message(self, message_type, brief, detail=None, **kwargs):
        LOG.write("[{}] {}: {}\n".format(message_type, self.name, brief))
        if detail:
            LOG.write(detail.rstrip("\n") + "\n")

    @contextlib.contextmanager
    def timed_activity(self, activity_name, *, detail=None, silent_nested=False):
        LOG.write("[START] {}: {}\n".format(self.name, activity_name))
        yield
        LOG.write("[DONE] {}: {}\n".format(self.name, activity_name))

    def _get_project(self):
        return self._host_project


class HostDependency:
    """A dependency as Element plugins see it: name, kind, public data."""

    def __init__(self, d, filename):
        self.name = d["name"]
        self.normal_name = d["name"].replace("/", "-").rsplit(".", 1)[0]
        self._kind = d.get("kind", "")
        self._public = _node(d.get("public") or {}, filename)

    def get_kind(self):
        return self._kind

    def get_public_data(self, domain):
        data = self._public.get(domain)
        return _yaml.node_copy(data) if data is not None else None

    def integrate(self, sandbox):
        pass  # crossfarm ran the integration commands when it staged the root

    def stage_artifact(self, sandbox, **kwargs):
        pass  # crossfarm staged the artifacts before assemble

    def __str__(self):
        return self.name


class HostElementMixin(HostPluginMixin):
    def dependencies(self, scope, *, recurse=True, visited=None):
        deps = self._host_deps["run" if scope == Scope.RUN else "build"]
        if scope == Scope.ALL:
            deps = self._host_deps["build"] + [d for d in self._host_deps["run"]
                                               if d not in self._host_deps["build"]]
        yield from deps

    def search(self, scope, name):
        return next((d for d in self.dependencies(scope) if d.name == name), None)

    def get_public_data(self, domain):
        data = self._host_public.get(domain)
        return _yaml.node_copy(data) if data is not None else None

    def set_public_data(self, domain, data):
        self._host_public[domain] = data

    def stage_dependency_artifacts(self, sandbox, scope, **kwargs):
        pass  # crossfarm staged the job's inputs into the root already

    def stage_artifact(self, sandbox, **kwargs):
        pass

    def stage_sources(self, sandbox, directory):
        pass  # crossfarm staged the sources at %{build-root}

    def integrate(self, sandbox):
        pass

    def batch_prepare_assemble(self, flags, *, collect=None):
        pass


class HostSourceMixin(HostPluginMixin):
    def get_mirror_directory(self):
        directory = os.path.join(self._host_mirror, self.get_kind())
        os.makedirs(directory, exist_ok=True)
        return directory

    def translate_url(self, url, *, alias_override=None, primary=True):
        return self._host_project.translate_url(url)

    def mark_download_url(self, url, *, primary=True):
        pass


class HostSandbox(Sandbox):
    """bst's Sandbox API over the job's staged root; run() goes to crossfarm."""

    def __init__(self, root):
        # Not Sandbox.__init__: it wants bst's Context and makes its own dirs.
        self._Sandbox__directories = []
        self._Sandbox__cwd = None
        self._Sandbox__env = None
        self._Sandbox__root = root
        self._Sandbox__mount_sources = {}

    def get_directory(self):
        return self._Sandbox__root

    def run(self, command, flags, *, cwd=None, env=None, label=None):
        if isinstance(command, str):
            command = [command]
        write_frame({"call": "run", "argv": [str(c) for c in command],
                     "cwd": cwd or self._Sandbox__cwd or "/",
                     "env": env if env is not None else (self._Sandbox__env or {}),
                     "flags": int(flags), "log": LOG.take()})
        reply = read_frame()
        if "error" in reply:
            raise ProtocolError(reply["error"])
        return int(reply["exit_code"])


_MODULES = {}


def load_plugin(spec):
    """The plugin class of spec["file"] (its setup() function), loaded once."""
    path = spec["file"]
    with open(path, "rb") as f:
        content = f.read()
    digest = hashlib.sha256(content).hexdigest()
    key = (path, digest)
    if key not in _MODULES:
        name = "crossfarm_plugin_{}_{}".format(spec["kind"], digest[:12])
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        if not hasattr(module, "setup"):
            raise ProtocolError("{} has no setup() function returning the plugin class"
                                .format(path))
        cls = module.setup()
        base = Element if spec.get("element", True) else Source
        if not isinstance(cls, type) or not issubclass(cls, base):
            raise ProtocolError("setup() of {} returned {!r}, not a {} subclass"
                                .format(path, cls, base.__name__))
        mixin = HostElementMixin if base is Element else HostSourceMixin
        _MODULES[key] = (type(cls.__name__, (mixin, cls), {}), digest)
    return _MODULES[key]


def _init_plugin(obj, kind, name, type_tag, project):
    obj.name = name
    obj._unique_id = 1
    obj._Plugin__kind = kind
    obj._Plugin__context = HostContext()
    obj._Plugin__project = project
    obj._Plugin__provenance = None
    obj._Plugin__type_tag = type_tag
    obj._Plugin__configuring = False
    obj._host_project = project


def make_element(req):
    cls, digest = load_plugin(req["plugin"])
    e = req["element"]
    filename = e["file"]
    obj = cls.__new__(cls)
    _init_plugin(obj, req["plugin"]["kind"], e["name"], "element", HostProject(req))
    obj.normal_name = e["name"].replace("/", "-").rsplit(".", 1)[0]
    obj._Element__variables = Variables(_node(e["variables"], filename))
    obj._Element__environment = dict(e["environment"])
    obj._Element__env_nocache = []
    obj._host_public = _node(e.get("public") or {}, filename)
    obj._host_deps = {k: [HostDependency(d, filename) for d in e.get(k, [])]
                      for k in ("build", "run")}
    obj._Plugin__configuring = True
    obj.configure(_node(e["config"], filename))
    obj._Plugin__configuring = False
    obj.preflight()
    return obj, digest


def make_source(req):
    cls, digest = load_plugin(req["plugin"])
    s = req["source"]
    filename = s["file"]
    obj = cls.__new__(cls)
    _init_plugin(obj, req["plugin"]["kind"], s["element"] + "-" + req["plugin"]["kind"],
                 "source", HostProject(req))
    # str(source) is "KIND source at PROVENANCE" in bst's messages.
    obj._Plugin__provenance = s["file"]
    obj._Source__element_name = s["element"]
    obj._Source__element_index = s.get("index", 0)
    obj._Source__element_kind = s.get("element_kind", "")
    obj._Source__directory = s.get("directory") or None
    obj._Source__consistency = Consistency.INCONSISTENT
    obj._host_mirror = req.get("mirror_dir", "/nonexistent")
    node = _node(s["config"], filename)
    obj._Plugin__configuring = True
    obj.configure(node)
    obj._Plugin__configuring = False
    obj.preflight()
    obj.load_ref(node)
    return obj, digest, node


def _jsonable(value):
    """A unique key or ref as plain JSON (bst nodes are dicts/lists already)."""
    return json.loads(json.dumps(value, default=str))


def op_load(req):
    cls, digest = load_plugin(req["plugin"])
    return {"format_version": int(getattr(cls, "BST_FORMAT_VERSION", 0)), "digest": digest}


def op_element_key(req):
    obj, digest = make_element(req)
    return {"key": _jsonable(obj.get_unique_key()), "digest": digest}


def op_element_assemble(req):
    obj, _ = make_element(req)
    sandbox = HostSandbox(req["root"])
    obj.configure_sandbox(sandbox)
    obj.stage(sandbox)
    collect = obj.assemble(sandbox)
    if not isinstance(collect, str):
        raise ProtocolError("assemble() returned {!r}, not the path to collect".format(collect))
    return {"collect": collect}


def op_source_key(req):
    obj, digest, _ = make_source(req)
    consistency = obj.get_consistency()
    names = {Consistency.INCONSISTENT: "inconsistent", Consistency.RESOLVED: "resolved",
             Consistency.CACHED: "cached"}
    key = obj.get_unique_key() if consistency != Consistency.INCONSISTENT else None
    return {"key": _jsonable(key), "ref": _jsonable(obj.get_ref()), "digest": digest,
            "consistency": names.get(consistency, str(consistency))}


def op_source_track(req):
    obj, _, node = make_source(req)
    new_ref = obj.track()
    return {"ref": _jsonable(new_ref)}


def op_source_fetch(req):
    obj, _, _ = make_source(req)
    if obj.get_consistency() != Consistency.CACHED:
        obj.fetch()
    return {}


def op_source_stage(req):
    obj, _, _ = make_source(req)
    directory = req["directory"]
    if obj._Source__directory:
        directory = os.path.join(directory, obj._Source__directory.lstrip(os.sep))
    os.makedirs(directory, exist_ok=True)
    obj.stage(directory)
    return {}


OPS = {"load": op_load, "element.key": op_element_key, "element.assemble": op_element_assemble,
       "source.key": op_source_key, "source.track": op_source_track,
       "source.fetch": op_source_fetch, "source.stage": op_source_stage}


def serve():
    write_frame({"hello": "crossfarm-plugin-host", "version": PROTOCOL_VERSION})
    while True:
        try:
            req = read_frame()
        except EOFError:
            return 0
        op = OPS.get(req.get("op"))
        try:
            if op is None:
                raise ProtocolError("unknown op {!r}".format(req.get("op")))
            with contextlib.redirect_stdout(LOG):
                result = op(req)
            reply = {"ok": True, "result": result}
        except (EOFError, BrokenPipeError):
            return 1
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # a plugin's error of any kind (even sys.exit) is the reply
            reply = {"ok": False, "error": "{}: {}".format(type(e).__name__, e),
                     "detail": traceback.format_exc()}
        reply["log"] = LOG.take()
        write_frame(reply)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--help", "--version"):
        sys.stderr.write("plugin_host.py: runs BuildStream 1.x plugins for crossfarm "
                         "(protocol {}; see docs/plugins.md)\n".format(PROTOCOL_VERSION))
        sys.exit(0)
    sys.exit(serve())
