#include "common/element_plugin_yaml.h"

#include <algorithm>

// Element plugin defaults of BuildStream 1.6 (plugins/elements/<kind>.yaml of
// the 1.6.8 release Debian 12 ships as `buildstream`). import, manual, compose
// and filter lost their comments; the others are verbatim.
// tests/common/kind_defaults_test.cc compares each with the installed bst's.
namespace crossfarm {
namespace {

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

constexpr std::string_view kPip = R"YAML(
# Pip default configurations

variables:

  pip: pip

config:

  configure-commands: []
  build-commands: []

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{pip} install --no-deps --root=%{install-root} --prefix=%{prefix} .

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}
  - |
    %{fix-pyc-timestamps}
)YAML";

constexpr std::string_view kDistutils = R"YAML(
# Default python distutils configuration

variables:

  # When building for python2 distutils, simply
  # override this in the element declaration
  python: python3

  python-build: |

    %{python} setup.py build

  install-args: |

    --prefix "%{prefix}" \
    --root "%{install-root}"

  python-install: |

    %{python} setup.py install %{install-args}


config:

  # Commands for configuring the software
  #
  configure-commands: []

  # Commands for building the software
  #
  build-commands:
  - |
    %{python-build}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{python-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}
  - |
    %{fix-pyc-timestamps}
)YAML";

constexpr std::string_view kMakemaker = R"YAML(
# Default configuration for the Perl ExtUtil::MakeMaker
# build system 

variables:

  # To install perl distributions into the correct location
  # in our chroot we need to set PREFIX to <destdir>/<prefix>
  # in the configure-commands.
  #
  # The mapping between PREFIX and the final installation
  # directories is complex and depends upon the configuration
  # of perl see,
  # https://metacpan.org/pod/distribution/perl/INSTALL#Installation-Directories
  # and ExtUtil::MakeMaker's documentation for more details.
  configure: |

    perl Makefile.PL PREFIX=%{install-root}%{prefix}

  make: make
  make-install: make install

config:

  # Commands for configuring the software
  #
  configure-commands:
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
)YAML";

constexpr std::string_view kModulebuild = R"YAML(
# Default configuration for the Perl Module::Build
# build system.

variables:

  # To install perl distributions into the correct location
  # in our chroot we need to set PREFIX to <destdir>/<prefix>
  # in the configure-commands.
  #
  # The mapping between PREFIX and the final installation
  # directories is complex and depends upon the configuration
  # of perl see,
  # https://metacpan.org/pod/distribution/perl/INSTALL#Installation-Directories
  # and ExtUtil::MakeMaker's documentation for more details.
  configure: |

    perl Build.PL --prefix "%{install-root}%{prefix}"

  perl-build: ./Build
  perl-install: ./Build install

config:

  # Commands for configuring the software
  #
  configure-commands:
  - |
    %{configure}

  # Commands for building the software
  #
  build-commands:
  - |
    %{perl-build}

  # Commands for installing the software into a
  # destination folder
  #
  install-commands:
  - |
    %{perl-install}

  # Commands for stripping debugging information out of
  # installed binaries
  #
  strip-commands:
  - |
    %{strip-binaries}
)YAML";

constexpr std::string_view kQmake = R"YAML(
# QMake default configuration

variables:

  qmake: qmake -makefile
  make: make
  make-install: make -j1 INSTALL_ROOT="%{install-root}" install

  # Set this if the sources cannot handle parallelization.
  #
  # notparallel: True

config:

  # Commands for configuring the software
  #
  configure-commands:
  - |
    %{qmake}

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

struct PluginYaml {
  std::string_view kind;
  std::string_view yaml;
};

constexpr PluginYaml kPlugins[] = {
    {"import", kImport},   {"manual", kManual},       {"autotools", kAutotools},
    {"cmake", kCmake},     {"make", kMake},           {"meson", kMeson},
    {"compose", kCompose}, {"script", kScript},       {"filter", kFilter},
    {"pip", kPip},         {"distutils", kDistutils}, {"makemaker", kMakemaker},
    {"modulebuild", kModulebuild}, {"qmake", kQmake},
};

}  // namespace

std::string_view ElementPluginYaml(std::string_view kind) {
  auto it = std::find_if(std::begin(kPlugins), std::end(kPlugins),
                         [&](const PluginYaml& p) { return p.kind == kind; });
  return it == std::end(kPlugins) ? std::string_view() : it->yaml;
}

}  // namespace crossfarm
