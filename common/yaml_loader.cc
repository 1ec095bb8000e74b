#include "common/yaml_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>

namespace crossfarm {
namespace {

// libyaml's event parser (the C parser BuildStream's YAML stack also uses): an
// order of magnitude faster than yaml-cpp's for many small files, and it
// reports exact error positions.
class EventReader {
 public:
  EventReader(std::string_view text, std::shared_ptr<const std::string> file)
      : file_(std::move(file)) {
    yaml_parser_initialize(&parser_);
    // libyaml asserts a non-null input; an empty string_view may have none.
    static const unsigned char kEmpty[] = "";
    yaml_parser_set_input_string(
        &parser_, text.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(text.data()),
        text.size());
  }
  ~EventReader() { yaml_parser_delete(&parser_); }
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // The first document, or an empty mapping for an empty stream.
  Result<NodePtr> ReadDocument() {
    Event ev;
    CF_TRY(Next(ev));  // STREAM-START
    CF_TRY(Next(ev));
    if (ev.e.type != YAML_DOCUMENT_START_EVENT) return Node::MakeMapping(NodeMark{file_, 1, 1});
    CF_TRY(Next(ev));
    return ReadNode(ev);
  }

 private:
  struct Event {
    yaml_event_t e{};
    bool valid = false;
    ~Event() { Reset(); }
    void Reset() {
      if (valid) yaml_event_delete(&e);
      valid = false;
    }
  };

  NodeMark Mark(const yaml_mark_t& m) const {
    return NodeMark{file_, static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1};
  }

  Status Next(Event& ev) {
    ev.Reset();
    if (!yaml_parser_parse(&parser_, &ev.e)) {
      Provenance where{*file_, static_cast<int>(parser_.problem_mark.line) + 1,
                       static_cast<int>(parser_.problem_mark.column) + 1};
      std::string what = parser_.problem ? parser_.problem : "syntax error";
      if (parser_.context) what = std::string(parser_.context) + ", " + what;
      return UserError(where, "invalid YAML: " + what, "fix the YAML syntax at this position");
    }
    ev.valid = true;
    return Status::Ok();
  }

  void Remember(const yaml_char_t* anchor, const NodePtr& node) {
    if (anchor) anchors_[reinterpret_cast<const char*>(anchor)] = {node, 1};
  }

  // Hostile input (docs/element-format.md "Limits"): nesting is bounded so the
  // recursion here and in every later tree walk cannot overflow the stack, and
  // the nodes of a file (alias copies included) so an alias bomb is an error,
  // not an out-of-memory abort.
  static constexpr int kMaxDepth = 200;
  static constexpr size_t kMaxNodes = 5'000'000;

  Status CountNodes(size_t n, const NodeMark& mark) {
    nodes_ += n;
    if (nodes_ <= kMaxNodes) return Status::Ok();
    return UserError(mark.ToProvenance(),
                     "the file expands to more than " + std::to_string(kMaxNodes) +
                         " YAML nodes (aliases included)",
                     "an alias of an alias multiplies the nodes; write the data out instead");
  }

  static size_t SubtreeSize(const Node& n) {
    size_t size = 1;
    for (const auto& item : n.items) size += SubtreeSize(*item);
    for (const auto& [k, v] : n.map) size += SubtreeSize(*v);
    return size;
  }

  Result<NodePtr> ReadNode(Event& ev) {
    NodeMark mark = Mark(ev.e.start_mark);
    struct DepthGuard {
      int& depth;
      explicit DepthGuard(int& d) : depth(d) { ++depth; }
      ~DepthGuard() { --depth; }
    } guard(depth_);
    if (depth_ > kMaxDepth)
      return Err(UserError(mark.ToProvenance(),
                           "YAML nested deeper than " + std::to_string(kMaxDepth) + " levels",
                           "flatten the structure"));
    CF_TRY(CountNodes(1, mark));
    switch (ev.e.type) {
      case YAML_SCALAR_EVENT: {
        auto& s = ev.e.data.scalar;
        std::string value(reinterpret_cast<const char*>(s.value), s.length);
        NodePtr n = (s.plain_implicit && (value.empty() || value == "~" || value == "null" ||
                                          value == "Null" || value == "NULL"))
                        ? Node::MakeNull(std::move(mark))
                        : Node::MakeScalar(std::move(value), std::move(mark));
        Remember(s.anchor, n);
        return n;
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.e.data.alias.anchor));
        if (it == anchors_.end())
          return Err(UserError(mark.ToProvenance(), "invalid YAML: unknown alias"));
        CF_TRY(CountNodes(it->second.size, mark));
        return it->second.node->Clone();
      }
      case YAML_SEQUENCE_START_EVENT: return ReadSequence(ev, std::move(mark));
      case YAML_MAPPING_START_EVENT: return ReadMapping(ev, std::move(mark));
      default: return Err(UserError(mark.ToProvenance(), "invalid YAML: unexpected event"));
    }
  }

  Result<NodePtr> ReadSequence(Event& ev, NodeMark mark) {
    NodePtr seq = Node::MakeSequence(std::move(mark));
    const yaml_char_t* anchor = ev.e.data.sequence_start.anchor;
    std::string anchor_name = anchor ? reinterpret_cast<const char*>(anchor) : "";
    for (;;) {
      CF_TRY(Next(ev));
      if (ev.e.type == YAML_SEQUENCE_END_EVENT) break;
      CF_ASSIGN_OR_RETURN(NodePtr item, ReadNode(ev));
      seq->items.push_back(std::move(item));
    }
    if (!anchor_name.empty()) anchors_[anchor_name] = {seq, SubtreeSize(*seq)};
    return seq;
  }

  Result<NodePtr> ReadMapping(Event& ev, NodeMark mark) {
    NodePtr map = Node::MakeMapping(std::move(mark));
    const yaml_char_t* anchor = ev.e.data.mapping_start.anchor;
    std::string anchor_name = anchor ? reinterpret_cast<const char*>(anchor) : "";
    for (;;) {
      CF_TRY(Next(ev));
      if (ev.e.type == YAML_MAPPING_END_EVENT) break;
      NodeMark key_mark = Mark(ev.e.start_mark);
      CF_ASSIGN_OR_RETURN(NodePtr key, ReadNode(ev));
      if (!key->IsScalar() && !key->IsNull())
        return Err(UserError(key_mark.ToProvenance(), "mapping keys must be strings"));
      CF_TRY(Next(ev));
      CF_ASSIGN_OR_RETURN(NodePtr value, ReadNode(ev));
      // Duplicate keys: the last one wins, as in ruamel / yaml-cpp.
      map->Set(key->scalar, std::move(value), std::move(key_mark));
    }
    if (!anchor_name.empty()) anchors_[anchor_name] = {map, SubtreeSize(*map)};
    return map;
  }

  yaml_parser_t parser_{};
  std::shared_ptr<const std::string> file_;
  struct Anchor {
    NodePtr node;
    size_t size = 1;  // nodes in its subtree: what each alias of it adds
  };
  std::map<std::string, Anchor> anchors_;
  int depth_ = 0;
  size_t nodes_ = 0;
};

}  // namespace

Result<NodePtr> ParseYamlString(std::string_view text, const std::string& display_name) {
  EventReader reader(text, std::make_shared<const std::string>(display_name));
  CF_ASSIGN_OR_RETURN(NodePtr node, reader.ReadDocument());
  if (node->IsNull()) return Node::MakeMapping(node->mark);
  if (!node->IsMapping())
    return Err(UserError(node->Where(), "the top level of a YAML file must be a mapping, not a " +
                                            std::string(KindName(node->kind))));
  return node;
}

Result<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Err(Status::NotFound("no such file: " + path));
    return Err(Status::FromErrno("cannot open " + path, err));
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Err(Status::FromErrno("cannot stat " + path, errno));
  if (S_ISDIR(st.st_mode)) return Err(Status::IOError(path + " is a directory, not a file"));
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  for (;;) {  // also copes with files that grow or report size 0 (procfs)
    if (got == data.size()) data.resize(data.size() * 2 + 4096);
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Status::FromErrno("cannot read " + path, errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

Result<NodePtr> ParseYamlFile(const std::string& path, const std::string& display_name) {
  CF_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseYamlString(text, display_name);
}

}  // namespace crossfarm
