// End-to-end: buildstream-external's `cargo` source, natively. The test writes
// two crates (greet depends on padder) into a local registry mirror directory
// and an app whose Cargo.lock pins them; `source track` pins the crates from
// the lock, the build vendors them and runs `cargo build --offline` in the
// sandbox, on a root of Debian 12's cargo, rustc and gcc (.deb packages), and
// the binary it made runs.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

std::string Sh(const std::string& cmd) {
  auto r = RunCmd(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  return r.output;
}

// <registry>/<name>/<name>-<version>.crate holding <name>-<version>/ with
// `toml` and `lib`; returns its sha256.
std::string WriteCrate(const fs::path& tree, const std::string& name, const std::string& version,
                       const std::string& toml, const std::string& lib) {
  const std::string dir = name + "-" + version;
  WriteFile(tree / "src" / dir / "Cargo.toml", toml);
  WriteFile(tree / "src" / dir / "src/lib.rs", lib);
  const fs::path crate = tree / "registry" / name / (dir + ".crate");
  fs::create_directories(crate.parent_path());
  Sh("tar -C " + (tree / "src").string() + " --sort=name --mtime=@0 --owner=0 --group=0 -czf " +
     crate.string() + " " + dir);
  return Sh("sha256sum " + crate.string()).substr(0, 64);
}

TEST(CargoE2ETest, CratesPinnedFromCargoLockBuildOfflineInTheSandbox) {
  TempTree tree("cargo");
  const fs::path t = tree.path();
  const std::string padder = WriteCrate(t, "padder", "0.1.0",
                                        "[package]\nname = \"padder\"\nversion = \"0.1.0\"\nedition = \"2018\"\n",
                                        "pub fn pad(s: &str) -> String { format!(\"[{}]\", s) }\n");
  const std::string greet = WriteCrate(
      t, "greet", "0.2.0",
      "[package]\nname = \"greet\"\nversion = \"0.2.0\"\nedition = \"2018\"\n\n[dependencies]\npadder = \"0.1\"\n",
      "pub fn greet(n: &str) -> String { format!(\"hello {}\", padder::pad(n)) }\n");
  const fs::path p = t / "project";
  WriteFile(p / "project.conf", "name: cargo\nformat-version: 18\nelement-path: elements\n"
                                "variables:\n  strip-binaries: ''\nenvironment:\n  PATH: /usr/bin:/bin\n");
  WriteFile(p / "elements/rust.bst", "kind: import\nsources:\n- kind: deb\n  arch: amd64\n"
                                     "  packages: [cargo, gcc, libc6-dev, dash, coreutils]\n");
  WriteFile(p / "files/app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"1.0.0\"\nedition = \"2018\"\n\n[dependencies]\ngreet = \"0.2\"\n");
  WriteFile(p / "files/app/src/main.rs", "fn main() { println!(\"{}\", greet::greet(\"crossfarm\")); }\n");
  const std::string registry = "registry+https://github.com/rust-lang/crates.io-index";
  WriteFile(p / "files/app/Cargo.lock",
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"1.0.0\"\ndependencies = [\n \"greet\",\n]\n\n"
            "[[package]]\nname = \"greet\"\nversion = \"0.2.0\"\nsource = \"" + registry + "\"\nchecksum = \"" +
                greet + "\"\ndependencies = [\n \"padder\",\n]\n\n"
            "[[package]]\nname = \"padder\"\nversion = \"0.1.0\"\nsource = \"" + registry + "\"\nchecksum = \"" +
                padder + "\"\n");
  // cc is an alternatives link dpkg's scripts would make: name gcc instead.
  WriteFile(p / "elements/app.bst",
            "kind: manual\nbuild-depends:\n- rust.bst\nsources:\n- kind: local\n  path: files/app\n"
            "- kind: cargo\n  url: " + (t / "registry").string() + "\n"
            "environment:\n  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER: gcc\n"
            "config:\n  build-commands:\n  - cargo build --offline --release\n"
            "  install-commands:\n  - install -D target/release/app %{install-root}%{bindir}/app\n");

  const std::string cf = std::string(CROSSFARM_BIN) + " -C " + p.string() + " --cache-dir " +
                         (t / "cache").string() + " --mirror-dir " + TestCache() + "/mirror ";
  auto track = RunCmd(cf + "source track --save rust.bst app.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;
  const std::string app = ReadFile(p / "elements/app.bst");
  EXPECT_NE(app.find("    - name: greet\n      version: 0.2.0\n      sha: " + greet + "\n"), std::string::npos) << app;
  EXPECT_NE(app.find("    - name: padder\n      version: 0.1.0\n      sha: " + padder + "\n"), std::string::npos) << app;

  auto build = RunCmd(cf + "build app.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  auto co = RunCmd(cf + "checkout --deps none app.bst " + (t / "out").string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(Sh((t / "out/usr/bin/app").string()), "hello [crossfarm]");
}

}  // namespace
}  // namespace crossfarm::e2e
