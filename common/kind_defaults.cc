#include "common/kind_defaults.h"

#include <algorithm>

namespace crossfarm {
namespace {

constexpr std::string_view kProjectConfig = R"YAML(
format-version: 0
element-path: .
ref-storage: inline
variables:
  prefix: "/usr"
  exec_prefix: "%{prefix}"
  bindir: "%{exec_prefix}/bin"
  sbindir: "%{exec_prefix}/sbin"
  libexecdir: "%{exec_prefix}/libexec"
  datadir: "%{prefix}/share"
  sysconfdir: "/etc"
  sharedstatedir: "%{prefix}/com"
  localstatedir: "/var"
  lib: "lib"
  libdir: "%{prefix}/%{lib}"
  debugdir: "%{libdir}/debug"
  includedir: "%{prefix}/include"
  docdir: "%{datadir}/doc"
  infodir: "%{datadir}/info"
  mandir: "%{datadir}/man"
  build-root: /buildstream/%{project-name}/%{element-name}
  conf-root: .
  install-root: /buildstream-install
  objcopy-link-args: --add-gnu-debuglink
  objcopy-extract-args: |

    --only-keep-debug --compress-debug-sections

  strip-args: |

    --remove-section=.comment --remove-section=.note --strip-unneeded

  strip-binaries: |

    cd "%{install-root}" && find -type f \
      '(' -perm -111 -o -name '*.so*' \
          -o -name '*.cmxs' -o -name '*.node' ')' \
      -exec sh -ec \
      'read -n4 hdr <"$1" # check for elf header
       case "$1" in
         %{install-root}%{debugdir}/*)
           exit 0
           ;;
       esac
       if [ "$hdr" != "$(printf \\x7fELF)" ]; then
           exit 0
       fi
       debugfile="%{install-root}%{debugdir}/$1"
       mkdir -p "$(dirname "$debugfile")"
       objcopy %{objcopy-extract-args} "$1" "$debugfile"
       chmod 644 "$debugfile"
       strip %{strip-args} "$1"
       objcopy %{objcopy-link-args} "$debugfile" "$1"' - {} ';'

  fix-pyc-timestamps: |

    find "%{install-root}" -name '*.pyc' -exec \
      dd if=/dev/zero of={} bs=1 count=4 seek=4 conv=notrunc ';'
environment:
  PATH: /usr/bin:/bin:/usr/sbin:/sbin
  SHELL: /bin/sh
  TERM: dumb
  USER: tomjon
  USERNAME: tomjon
  LOGNAME: tomjon
  LC_ALL: C
  HOME: /tmp
  TZ: UTC
  SOURCE_DATE_EPOCH: 1320937200
environment-nocache: []
sandbox:
  build-uid: 0
  build-gid: 0
split-rules:
  runtime:
  - |
    %{bindir}/*
  - |
    %{sbindir}/*
  - |
    %{libexecdir}/*
  - |
    %{libdir}/lib*.so*
  devel:
  - |
    %{includedir}
  - |
    %{includedir}/**
  - |
    %{libdir}/lib*.a
  - |
    %{libdir}/lib*.la
  - |
    %{libdir}/pkgconfig/*.pc
  - |
    %{datadir}/pkgconfig/*.pc
  - |
    %{datadir}/aclocal/*.m4
  debug:
  - |
    %{debugdir}
  - |
    %{debugdir}/**
  doc:
  - |
    %{docdir}
  - |
    %{docdir}/**
  - |
    %{infodir}
  - |
    %{infodir}/**
  - |
    %{mandir}
  - |
    %{mandir}/**
  locale:
  - |
    %{datadir}/locale
  - |
    %{datadir}/locale/**
  - |
    %{datadir}/i18n
  - |
    %{datadir}/i18n/**
  - |
    %{datadir}/zoneinfo
  - |
    %{datadir}/zoneinfo/**
shell:
  command: [ 'sh', '-i' ]
defaults:
  targets: []
)YAML";

constexpr std::string_view kImport = R"YAML(
config:
  source: /
  target: /
)YAML";

constexpr std::string_view kManual = R"YAML(
config:
  configure-commands: []
  build-commands: []
  install-commands: []
  strip-commands:
  - |
    %{strip-binaries}
environment:
  MAKEFLAGS: -j%{max-jobs}
  V: 1
environment-nocache:
- MAKEFLAGS
- V
)YAML";

constexpr std::string_view kAutotools = R"YAML(
variables:
  autogen: |
    export NOCONFIGURE=1;

    if [ -x %{conf-root}/autogen ]; then %{conf-root}/autogen;
    elif [ -x %{conf-root}/autogen.sh ]; then %{conf-root}/autogen.sh;
    elif [ -x %{conf-root}/bootstrap ]; then %{conf-root}/bootstrap;
    elif [ -x %{conf-root}/bootstrap.sh ]; then %{conf-root}/bootstrap.sh;
    else autoreconf -ivf %{conf-root};
    fi
  conf-global: ''
  conf-local: ''
  conf-extra: ''
  conf-cmd: "%{conf-root}/configure"
  conf-args: |

    --prefix=%{prefix} \
    --exec-prefix=%{exec_prefix} \
    --bindir=%{bindir} \
    --sbindir=%{sbindir} \
    --sysconfdir=%{sysconfdir} \
    --datadir=%{datadir} \
    --includedir=%{includedir} \
    --libdir=%{libdir} \
    --libexecdir=%{libexecdir} \
    --localstatedir=%{localstatedir} \
    --sharedstatedir=%{sharedstatedir} \
    --mandir=%{mandir} \
    --infodir=%{infodir} %{conf-extra} %{conf-global} %{conf-local}
  configure: |

    %{conf-cmd} %{conf-args}
  make: make
  make-install: make -j1 DESTDIR="%{install-root}" install
config:
  configure-commands:
  - |
    %{autogen}
  - |
    %{configure}
  build-commands:
  - |
    %{make}
  install-commands:
  - |
    %{make-install}
  strip-commands:
  - |
    %{strip-binaries}
environment:
  MAKEFLAGS: -j%{max-jobs}
  V: 1
environment-nocache:
- MAKEFLAGS
- V
)YAML";

constexpr std::string_view kCmake = R"YAML(
variables:
  build-dir: _builddir
  cmake-global: ''
  cmake-local: ''
  cmake-extra: ''
  generator: Unix Makefiles
  cmake-args: |

    -DCMAKE_INSTALL_PREFIX:PATH="%{prefix}" \
    -DCMAKE_INSTALL_LIBDIR:PATH="%{lib}" %{cmake-extra} %{cmake-global} %{cmake-local}
  cmake: |

    cmake -B%{build-dir} -H"%{conf-root}" -G"%{generator}" %{cmake-args}
  make: cmake --build %{build-dir} -- ${JOBS}
  make-install: env DESTDIR="%{install-root}" cmake --build %{build-dir} --target install
config:
  configure-commands:
  - |
    %{cmake}
  build-commands:
  - |
    %{make}
  install-commands:
  - |
    %{make-install}
  strip-commands:
  - |
    %{strip-binaries}
environment:
  JOBS: -j%{max-jobs}
  V: 1
environment-nocache:
- JOBS
- V
)YAML";

constexpr std::string_view kMake = R"YAML(
variables:
  make: make PREFIX="%{prefix}"
  make-install: make -j1 PREFIX="%{prefix}" DESTDIR="%{install-root}" install
config:
  build-commands:
  - |
    %{make}
  install-commands:
  - |
    %{make-install}
  strip-commands:
  - |
    %{strip-binaries}
environment:
  MAKEFLAGS: -j%{max-jobs}
  V: 1
environment-nocache:
- MAKEFLAGS
- V
)YAML";

constexpr std::string_view kMeson = R"YAML(
variables:
  build-dir: _builddir
  meson-global: ''
  meson-local: ''
  meson-extra: ''
  meson-args: |

    --prefix=%{prefix} \
    --bindir=%{bindir} \
    --sbindir=%{sbindir} \
    --sysconfdir=%{sysconfdir} \
    --datadir=%{datadir} \
    --includedir=%{includedir} \
    --libdir=%{libdir} \
    --libexecdir=%{libexecdir} \
    --localstatedir=%{localstatedir} \
    --sharedstatedir=%{sharedstatedir} \
    --mandir=%{mandir} \
    --infodir=%{infodir} %{meson-extra} %{meson-global} %{meson-local}
  meson: meson %{conf-root} %{build-dir} %{meson-args}
  ninja: |
    ninja -j ${NINJAJOBS} -C %{build-dir}
  ninja-install: |
    env DESTDIR="%{install-root}" ninja -C %{build-dir} install
config:
  configure-commands:
  - |
    %{meson}
  build-commands:
  - |
    %{ninja}
  install-commands:
  - |
    %{ninja-install}
  strip-commands:
  - |
    %{strip-binaries}
environment:
  NINJAJOBS: |
    %{max-jobs}
environment-nocache:
- NINJAJOBS
)YAML";

constexpr std::string_view kCompose = R"YAML(
config:
  integrate: True
  include: []
  exclude: []
  include-orphans: True
)YAML";

constexpr std::string_view kScript = R"YAML(
variables:
  cwd: /
config:
  root-read-only: False
  commands: []
)YAML";

constexpr std::string_view kFilter = R"YAML(
config:
  include: []
  exclude: []
  include-orphans: False
)YAML";

struct KindEntry {
  std::string_view name;
  std::string_view yaml;
  bool supported;
};

constexpr KindEntry kKinds[] = {
    {"import", kImport, true},       {"manual", kManual, true},   {"autotools", kAutotools, true},
    {"cmake", kCmake, true},         {"make", kMake, true},       {"meson", kMeson, true},
    {"compose", kCompose, true},     {"stack", "", true},         {"script", kScript, true},
    {"filter", kFilter, true},       {"distutils", "", false},    {"pip", "", false},
    {"junction", "", false},
};

constexpr std::string_view kSourceKinds[] = {"local", "tar",   "patch",  "git",   "deb",
                                             "debian-source", "remote", "zip", "ostree", "bzr"};

}  // namespace

std::string_view BuiltinProjectDefaultsYaml() { return kProjectConfig; }

KindSupport ElementKindSupport(std::string_view kind) {
  for (const auto& k : kKinds)
    if (k.name == kind) return k.supported ? KindSupport::kSupported : KindSupport::kUnsupported;
  return KindSupport::kUnknown;
}

std::string_view ElementKindDefaultsYaml(std::string_view kind) {
  for (const auto& k : kKinds)
    if (k.name == kind) return k.yaml;
  return {};
}

std::vector<std::string_view> KnownElementKinds() {
  std::vector<std::string_view> out;
  for (const auto& k : kKinds) out.push_back(k.name);
  return out;
}

bool IsKnownSourceKind(std::string_view kind) {
  return std::find(std::begin(kSourceKinds), std::end(kSourceKinds), kind) !=
         std::end(kSourceKinds);
}

std::vector<std::string_view> KnownSourceKinds() {
  return {std::begin(kSourceKinds), std::end(kSourceKinds)};
}

}  // namespace crossfarm
