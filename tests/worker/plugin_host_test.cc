// PluginHost (worker/plugin_host.h) with the real plugins/plugin_host.py and
// python3-buildstream, and with stand-in host programs that break the
// protocol: every failure is an error Status naming what happened.
#include "worker/plugin_host.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "worker/fs_util.h"

namespace crossfarm::worker {
namespace {

std::string Write(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

constexpr const char* kPlugin = R"(
from buildstream import Element
class K(Element):
    BST_FORMAT_VERSION = 4
    def configure(self, node):
        self.node_validate(node, ['word'])
        self.word = self.node_subst_member(node, 'word')
    def preflight(self): pass
    def get_unique_key(self):
        print('printing is harmless')
        if self.word == 'raise':
            raise RuntimeError('asked to raise')
        return {'word': self.word}
def setup():
    return K
)";

Json KeyRequest(const std::string& file, const std::string& word) {
  return {{"op", "element.key"},
          {"plugin", {{"kind", "k"}, {"file", file}, {"element", true}}},
          {"element",
           {{"name", "e.bst"}, {"file", "e.bst"}, {"config", {{"word", word}}},
            {"variables", {{"greeting", "hi"}}}, {"environment", Json::object()},
            {"public", Json::object()}, {"build", Json::array()}, {"run", Json::array()}}}};
}

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("", "plugin-host-test-");
    ASSERT_TRUE(d);
    dir_ = std::make_unique<TempDir>(std::move(*d));
    plugin_ = Write(dir_->path(), "k.py", kPlugin);
  }
  std::unique_ptr<TempDir> dir_;
  std::string plugin_;
};

TEST_F(PluginHostTest, RunsAPluginWithBuildstreamsApi) {
  auto host = PluginHost::Start({});
  ASSERT_TRUE(host) << host.error().message();
  auto loaded = (*host)->Request({{"op", "load"},
                                  {"plugin", {{"kind", "k"}, {"file", plugin_}, {"element", true}}}});
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ((*loaded)["format_version"], 4);
  std::string log;
  auto key = (*host)->Request(KeyRequest(plugin_, "%{greeting} there"), {},
                              [&](std::string_view t) { log += t; });
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ((*key)["key"], (Json{{"word", "hi there"}}));
  EXPECT_EQ(log, "printing is harmless\n");
}

TEST_F(PluginHostTest, APluginsExceptionIsAnErrorAndTheHostServesOn) {
  auto host = PluginHost::Start({});
  ASSERT_TRUE(host);
  auto r = (*host)->Request(KeyRequest(plugin_, "raise"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("RuntimeError: asked to raise"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("k.py"), std::string::npos) << r.error().message();
  EXPECT_FALSE((*host)->dead());
  EXPECT_TRUE((*host)->Request(KeyRequest(plugin_, "again")));
}

TEST_F(PluginHostTest, HostsThatBreakTheProtocolAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"import sys; sys.stdout.write('garbage, not a frame'); sys.stdout.flush()",
       "the plugin host wrote garbage on its pipe in start-up"},
      {"import sys; sys.stderr.write('boom'); sys.exit(7)",
       "the plugin host died in start-up (exit code 7)\n  plugin host stderr: boom"},
      {"import sys, struct; sys.stdout.buffer.write(struct.pack('>I', 2) + b'[]')",
       "the plugin host wrote garbage on its pipe in start-up: []"},
  };
  for (const auto& [program, want] : cases) {
    std::string file = Write(dir_->path(), "host.py", program);
    auto host = PluginHost::Start({.program = file});
    ASSERT_FALSE(host) << program;
    EXPECT_EQ(host.error().message().substr(0, std::string(want).size()), want) << program;
  }
}

TEST_F(PluginHostTest, AHostThatHangsInARequestIsKilledAtTheTimeout) {
  std::string file = Write(dir_->path(), "host.py",
                           "import json, struct, sys, time\n"
                           "hello = json.dumps({'hello': 'crossfarm-plugin-host', 'version': 1})\n"
                           "sys.stdout.buffer.write(struct.pack('>I', len(hello)) + hello.encode())\n"
                           "sys.stdout.flush()\ntime.sleep(60)\n");
  auto host = PluginHost::Start({.program = file, .timeout = std::chrono::seconds(1)});
  ASSERT_TRUE(host) << host.error().message();
  auto r = (*host)->Request({{"op", "load"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "the plugin did not answer within 1.000 s in load (hung?)");
  EXPECT_TRUE((*host)->dead());
}

TEST_F(PluginHostTest, APoolReusesAnIdleHostAndDropsADeadOne) {
  PluginHostPool pool({});
  for (int i = 0; i < 3; ++i) {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease);
    EXPECT_TRUE((**lease).Request(KeyRequest(plugin_, "x")));
  }
  EXPECT_EQ(pool.started(), 1u);
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();  // a is busy: a second host
    ASSERT_TRUE(a && b);
  }
  EXPECT_EQ(pool.started(), 2u);
}

TEST_F(PluginHostTest, TheHostHasNoNetworkUnlessAsked) {
  std::string probe = Write(dir_->path(), "net.py", R"(
import socket
from buildstream import Element
class N(Element):
    def configure(self, node): pass
    def preflight(self): pass
    def get_unique_key(self):
        return [name for _, name in socket.if_nameindex()]
def setup():
    return N
)");
  for (bool network : {false, true}) {
    auto host = PluginHost::Start({.network = network});
    ASSERT_TRUE(host);
    Json req = KeyRequest(probe, "");
    req["plugin"]["kind"] = "n";
    req["element"]["config"] = Json::object();
    auto r = (*host)->Request(req);
    ASSERT_TRUE(r) << r.error().message();
    if (network) EXPECT_GT((*r)["key"].size(), 1u) << (*r)["key"].dump();
    else EXPECT_EQ((*r)["key"], (Json{"lo"}));
  }
}

}  // namespace
}  // namespace crossfarm::worker
