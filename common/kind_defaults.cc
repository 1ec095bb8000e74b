#include "common/kind_defaults.h"

#include <algorithm>

// The default YAML of BuildStream 1.6 (data/projectconfig.yaml and
// plugins/elements/*.yaml of the 1.6.8 release Debian 12 ships as `buildstream`),
// so kinds compose exactly as bst composes them.
namespace crossfarm {
namespace {

constexpr std::string_view kProjectConfig = R"YAML(
# Default BuildStream project configuration.


# General configuration defaults
#

# Require format version 0
format-version: 0

# Elements are found at the project root
element-path: .

# Store source references in element files
ref-storage: inline

# Variable Configuration
#
variables:
  # Path configuration, to be used in build instructions.
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

  # Indicates the default build directory where input is
  # normally staged
  build-root: /buildstream/%{project-name}/%{element-name}

  # Indicates the build installation directory in the sandbox
  install-root: /buildstream-install

  # Arguments for tooling used when stripping debug symbols
  objcopy-link-args: --add-gnu-debuglink
  objcopy-extract-args: |

    --only-keep-debug --compress-debug-sections

  strip-args: |

    --remove-section=.comment --remove-section=.note --strip-unneeded

  # Generic implementation for stripping debugging symbols
  strip-binaries: |

    cd "%{install-root}" && find -type f \
      '(' -perm -111 -o -name '*.so*' \
          -o -name '*.cmxs' -o -name '*.node' ')' \
      -exec sh -ec \
      'read -n4 hdr <"$1" # check for elf header
       if [ "$hdr" != "$(printf \\x7fELF)" ]; then
           exit 0
       fi
       debugfile="%{install-root}%{debugdir}/$1"
       mkdir -p "$(dirname "$debugfile")"
       objcopy %{objcopy-extract-args} "$1" "$debugfile"
       chmod 644 "$debugfile"
       strip %{strip-args} "$1"
       objcopy %{objcopy-link-args} "$debugfile" "$1"' - {} ';'

  # Generic implementation for reproducible python builds
  fix-pyc-timestamps: |

    find "%{install-root}" -name '*.pyc' -exec \
      dd if=/dev/zero of={} bs=1 count=4 seek=4 conv=notrunc ';'

# Base sandbox environment, can be overridden by plugins
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

  # For reproducible builds we use 2011-11-11 as a constant
  SOURCE_DATE_EPOCH: 1320937200

# List of environment variables which should not be taken into
# account when calculating a cache key for a given element.
#
environment-nocache: []

# Configuration for the sandbox other than environment variables
# should go in 'sandbox'. This just contains the UID and GID that
# the user in the sandbox will have. Not all sandboxes will support
# changing the values.
sandbox:
  build-uid: 0
  build-gid: 0

# Defaults for the 'split-rules' public data found on elements
# in the 'bst' domain.
#
split-rules:

  # The runtime domain includes whatever is needed for the
  # built element to run, this includes stripped executables
  # and shared libraries by default.
  runtime:
  - |
    %{bindir}/*
  - |
    %{sbindir}/*
  - |
    %{libexecdir}/*
  - |
    %{libdir}/lib*.so*

  # The devel domain includes additional things which
  # you may need for development.
  #
  # By default this includes header files, static libraries
  # and other metadata such as pkgconfig files, m4 macros and
  # libtool archives.
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

  # The debug domain includes debugging information stripped
  # away from libraries and executables
  debug:
  - |
    %{debugdir}
  - |
    %{debugdir}/**

  # The doc domain includes documentation
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

  # The locale domain includes translations etc
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


# Default behavior for `bst shell`
#
shell:

  # Command to run when `bst shell` does not provide a command
  #
  command: [ 'sh', '-i' ]

# crossfarm: bst 1.6 takes the default targets from here too
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
# Autotools default configurations

variables:

  autogen: |
    export NOCONFIGURE=1;

    if [ -x %{conf-cmd} ]; then true;
    elif [ -x autogen ]; then ./autogen;
    elif [ -x autogen.sh ]; then ./autogen.sh;
    elif [ -x bootstrap ]; then ./bootstrap;
    elif [ -x bootstrap.sh ]; then ./bootstrap.sh;
    else autoreconf -ivf;
    fi

  # Project-wide extra arguments to be passed to `configure`
  conf-global: ''

  # Element-specific extra arguments to be passed to `configure`.
  conf-local: ''

  # For backwards compatibility only, do not use.
  conf-extra: ''

  conf-cmd: ./configure
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

  # Set this if the sources cannot handle parallelization.
  #
  # notparallel: True

config:

  # Commands for configuring the software
  #
  configure-commands:
  - |
    %{autogen}
  - |
    %{configure}

  # Commands for building the software
  #
  build-commands:
  - |
    %{make}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{make-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}

# Use max-jobs CPUs for building and enable verbosity
environment:
  MAKEFLAGS: -j%{max-jobs}
  V: 1

# And dont consider MAKEFLAGS or V as something which may
# effect build output.
environment-nocache:
- MAKEFLAGS
- V
)YAML";

constexpr std::string_view kCmake = R"YAML(
# CMake default configuration

variables:

  build-dir: _builddir

  # Project-wide extra arguments to be passed to `cmake`
  cmake-global: ''

  # Element-specific extra arguments to be passed to `cmake`.
  cmake-local: ''

  # For backwards compatibility only, do not use.
  cmake-extra: ''

  # The cmake generator to use
  generator: Unix Makefiles

  cmake-args: |

    -DCMAKE_INSTALL_PREFIX:PATH="%{prefix}" \
    -DCMAKE_INSTALL_LIBDIR:PATH="%{lib}" %{cmake-extra} %{cmake-global} %{cmake-local}

  cmake: |

    cmake -B%{build-dir} -H. -G"%{generator}" %{cmake-args}

  make: cmake --build %{build-dir} -- ${JOBS}
  make-install: env DESTDIR="%{install-root}" cmake --build %{build-dir} --target install

  # Set this if the sources cannot handle parallelization.
  #
  # notparallel: True

config:

  # Commands for configuring the software
  #
  configure-commands:
  - |
    %{cmake}

  # Commands for building the software
  #
  build-commands:
  - |
    %{make}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{make-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}

# Use max-jobs CPUs for building and enable verbosity
environment:
  JOBS: -j%{max-jobs}
  V: 1

# And dont consider JOBS or V as something which may
# effect build output.
environment-nocache:
- JOBS
- V
)YAML";

constexpr std::string_view kMake = R"YAML(
# make default configurations

variables:
  make-args: >-
    PREFIX="%{prefix}"
  make-install-args: >-
    %{make-args}
    DESTDIR="%{install-root}"
    install
  make: make %{make-args}
  make-install: make -j1 %{make-install-args}

  # Set this if the sources cannot handle parallelization.
  #
  # notparallel: True

config:

  # Commands for building the software
  #
  build-commands:
  - |
    %{make}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{make-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}

# Use max-jobs CPUs for building and enable verbosity
environment:
  MAKEFLAGS: -j%{max-jobs}
  V: 1

# And dont consider MAKEFLAGS or V as something which may
# effect build output.
environment-nocache:
- MAKEFLAGS
- V
)YAML";

constexpr std::string_view kMeson = R"YAML(
# Meson default configuration

variables:

  build-dir: _builddir

  # Project-wide extra arguments to be passed to `meson`
  meson-global: ''

  # Element-specific extra arguments to be passed to `meson`.
  meson-local: ''

  # For backwards compatibility only, do not use.
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

  meson: meson %{build-dir} %{meson-args}

  ninja: |
    ninja -j ${NINJAJOBS} -C %{build-dir}

  ninja-install: |
    env DESTDIR="%{install-root}" ninja -C %{build-dir} install

  # Set this if the sources cannot handle parallelization.
  #
  # notparallel: True

config:

  # Commands for configuring the software
  #
  configure-commands:
  - |
    %{meson}

  # Commands for building the software
  #
  build-commands:
  - |
    %{ninja}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{ninja-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}

# Use max-jobs CPUs for building
environment:
  NINJAJOBS: |
    %{max-jobs}

# And dont consider NINJAJOBS as something which may
# effect build output.
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
# Common script element variables
variables:
  # Defines the directory commands will be run from.
  cwd: /

# Script element configuration
config:

  # Defines whether to run the sandbox with '/' read-only.
  # It is recommended to set root as read-only wherever possible.
  root-read-only: False

  # Defines whether we should mount a tmpfs filesystem at /dev/shm
  #
  create-dev-shm: False

  # Defines where to stage elements which are direct or indirect dependencies.
  # By default, all direct dependencies are staged to '/'.
  # This is also commonly used to take one element as an environment
  # containing the tools used to operate on the other element.
  # layout:
  # - element: foo-tools.bst
  #   destination: /
  # - element: foo-system.bst
  #   destination: %{build-root}

  # List of commands to run in the sandbox.
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

// Must equal the worker's factory table (worker/source.cc kKinds); the unit test
// SourceKindsTest.LoaderAndFactoryTableAgree checks it, since common/ may not
// include worker/.
constexpr std::string_view kSourceKinds[] = {
    "local", "tar",    "patch", "git",    "deb", "debian-source",
    "remote", "zip", "bzr",   "ostree", "pip"};

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
