// The allowed dependencies between components are written once, in the table
// "Components and allowed dependencies" of docs/architecture.md. This test reads
// that table and every source file of the tree, and fails on an #include that
// crosses an edge the table does not allow, or on a source file no row owns, so
// the document and the code cannot drift apart.
#include <fnmatch.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Component {
  std::string name;                  // `crossfarm_cas` -> "cas"
  std::vector<std::string> patterns;  // "cas/" or "worker/source*.*"
  std::set<std::string> may_include;  // other components
};

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t") + 1);
  return s;
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::stringstream in(row.substr(1));
  std::string cell;
  while (std::getline(in, cell, '|')) cells.push_back(Trim(cell));
  return cells;
}

std::vector<std::string> Backticked(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex tick("`([^`]+)`");
  for (std::sregex_iterator it(text.begin(), text.end(), tick), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

// The table's rows, in order. "may depend on" lists component names before any
// parenthesis (which names third-party libraries); "everything above" means
// every row before this one; "nothing of ours" means none.
std::vector<Component> ReadTable(const fs::path& doc, std::string& error) {
  std::ifstream in(doc);
  std::string line;
  bool in_section = false;
  std::vector<Component> rows;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) {
      if (in_section) break;
      in_section = line == "## Components and allowed dependencies";
      continue;
    }
    if (!in_section || !line.starts_with("| `")) continue;
    std::vector<std::string> cells = Cells(line);
    if (cells.size() < 3) {
      error = "a row with fewer than 3 cells: " + line;
      return {};
    }
    Component c;
    std::string lib = Backticked(cells[0]).at(0);
    c.name = lib.starts_with("crossfarm_") ? lib.substr(10) : lib;
    c.patterns = Backticked(cells[1]);
    std::string deps = cells[2].substr(0, cells[2].find('('));
    if (deps.find("everything above") != std::string::npos) {
      for (const Component& above : rows) c.may_include.insert(above.name);
    } else if (deps.find("nothing of ours") == std::string::npos) {
      std::stringstream names(deps);
      std::string name;
      while (std::getline(names, name, ',')) {
        name = Trim(name);
        if (!name.empty()) c.may_include.insert(name);
      }
    }
    rows.push_back(std::move(c));
  }
  if (rows.empty()) error = doc.string() + ": no table under '## Components and allowed dependencies'";
  return rows;
}

// The component owning a tree path: the row whose pattern matches it most
// specifically (the longest pattern), so `worker/plugin_host.*` beats `worker/`.
const Component* Owner(const std::vector<Component>& rows, const std::string& path) {
  const Component* best = nullptr;
  size_t best_len = 0;
  for (const Component& c : rows) {
    for (const std::string& p : c.patterns) {
      bool match = p.ends_with('/') ? path.starts_with(p) : fnmatch(p.c_str(), path.c_str(), FNM_PATHNAME) == 0;
      if (match && p.size() > best_len) {
        best = &c;
        best_len = p.size();
      }
    }
  }
  return best;
}

const fs::path kRoot = CROSSFARM_SOURCE_DIR;
// Tests, benchmarks, fuzz targets and examples may include anything.
const std::set<std::string> kExempt = {"tests", "bench", "fuzz", "examples", "build", "cmake", "docs",
                                       "ansible", "packaging", "scripts"};

std::vector<std::string> SourceFiles() {
  std::vector<std::string> out;
  for (const auto& top : fs::directory_iterator(kRoot)) {
    std::string name = top.path().filename().string();
    if (!top.is_directory() || name.starts_with(".") || kExempt.contains(name) || name.starts_with("build")) continue;
    for (const auto& e : fs::recursive_directory_iterator(top.path())) {
      std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cc" || ext == ".in" || ext == ".capnp"))
        out.push_back(fs::relative(e.path(), kRoot).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ArchitectureTest, EveryIncludeFollowsAnEdgeOfTheDocumentedTable) {
  std::string error;
  std::vector<Component> rows = ReadTable(kRoot / "docs/architecture.md", error);
  ASSERT_TRUE(error.empty()) << error;
  static const std::regex include_re(R"re(^\s*#\s*include\s+"([a-z_]+/[^"]+)")re");
  std::vector<std::string> problems;
  size_t includes = 0;
  for (const std::string& file : SourceFiles()) {
    const Component* from = Owner(rows, file);
    if (!from) {
      problems.push_back(file + ": no row of docs/architecture.md owns this file; add it to the table");
      continue;
    }
    std::ifstream in(kRoot / file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      std::string target = m[1];
      if (!fs::exists(kRoot / target)) continue;  // a generated header (capnp) or a system one
      ++includes;
      const Component* to = Owner(rows, target);
      if (!to || to == from || from->may_include.contains(to->name)) continue;
      problems.push_back(file + ":" + std::to_string(n) + ": " + from->name + " includes " + target + " of " + to->name +
                         ", an edge docs/architecture.md does not allow (allow it there, or move the code)");
    }
  }
  EXPECT_GT(includes, 100u) << "the scan found almost no includes: is CROSSFARM_SOURCE_DIR right?";
  std::string all;
  for (const std::string& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << all;
}

// The check itself can fail: a made-up table that forbids common -> cas flags
// an include of cas/ from common/, and the longest pattern owns a file.
TEST(ArchitectureTest, TheCheckerRefusesAnEdgeTheTableDoesNotList) {
  fs::path doc = fs::temp_directory_path() / ("arch-test-" + std::to_string(::getpid()) + ".md");
  {
    std::ofstream out(doc);
    out << "## Components and allowed dependencies\n\n| library | dir | may depend on |\n|---|---|---|\n"
        << "| `crossfarm_common` | `common/` | nothing of ours (fmt) |\n"
        << "| `crossfarm_cas` | `cas/` | common (RocksDB) |\n"
        << "| `crossfarm_host` | `cas/host.*` | cas |\n"
        << "| `crossfarm_client` | `client/` | everything above |\n\n## Next\n| `x` | `y/` | z |\n";
  }
  std::string error;
  std::vector<Component> rows = ReadTable(doc, error);
  fs::remove(doc);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].may_include.empty());
  EXPECT_EQ(rows[1].may_include, std::set<std::string>{"common"});
  EXPECT_EQ(rows[3].may_include, (std::set<std::string>{"common", "cas", "host"}));
  EXPECT_EQ(Owner(rows, "cas/host.cc")->name, "host");
  EXPECT_EQ(Owner(rows, "cas/server.cc")->name, "cas");
  EXPECT_EQ(Owner(rows, "scheduler/x.cc"), nullptr);
  EXPECT_FALSE(rows[0].may_include.contains(Owner(rows, "cas/cas.h")->name));
}

}  // namespace
