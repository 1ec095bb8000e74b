#include "common/directives.h"

#include <algorithm>

namespace crossfarm {
namespace {

constexpr std::string_view kPrepend = "(<)";
constexpr std::string_view kAppend = "(>)";
constexpr std::string_view kReplace = "(=)";

bool IsListKey(std::string_view k) { return k == kPrepend || k == kAppend || k == kReplace; }

Status TypeError(const Node& source, std::string_view key, const Node& target_value,
                 const Node& source_value) {
  return UserError(source.KeyProvenance(key),
                   "cannot compose '" + std::string(key) + "': a " +
                       std::string(KindName(source_value.kind)) + " cannot replace a " +
                       std::string(KindName(target_value.kind)) + " declared at " +
                       target_value.Where().ToString());
}

Status CheckDirective(const Node& d) {
  for (const auto& [k, v] : d.map) {
    if (!IsListKey(k))
      return UserError(d.KeyProvenance(k), "'" + k + "' cannot be mixed with list directives",
                       "a mapping with (<), (>) or (=) may hold only those keys");
    if (!v->IsSequence())
      return UserError(d.KeyProvenance(k), "the value of " + k + " must be a list");
  }
  return Status::Ok();
}

void AppendClones(std::vector<NodePtr>& out, const NodePtr& list) {
  if (!list) return;
  for (const auto& it : list->items) out.push_back(it->Clone());
}

// A directive applied to an existing list.
NodePtr ApplyToList(const Node& list, const Node& d) {
  NodePtr out = Node::MakeSequence(list.mark);
  AppendClones(out->items, d.Get(kPrepend));
  NodePtr replace = d.Get(kReplace);
  if (replace) AppendClones(out->items, replace);
  else for (const auto& it : list.items) out->items.push_back(it->Clone());
  AppendClones(out->items, d.Get(kAppend));
  return out;
}

// Two pending directives: `newer` layered onto `older`.
NodePtr MergeDirectives(const Node& older, const Node& newer) {
  if (newer.Has(kReplace)) return newer.Clone();
  NodePtr out = Node::MakeMapping(older.mark);
  auto list = [&](std::string_view key, const Node* first, const Node* second) {
    NodePtr seq = Node::MakeSequence();
    if (NodePtr a = first->Get(key)) { seq->mark = a->mark; AppendClones(seq->items, a); }
    if (NodePtr b = second->Get(key)) { seq->mark = b->mark; AppendClones(seq->items, b); }
    if (!seq->items.empty() || first->Has(key) || second->Has(key)) out->Set(std::string(key), seq);
  };
  if (NodePtr r = older.Get(kReplace)) out->Set(std::string(kReplace), r->Clone());
  list(kPrepend, &newer, &older);
  list(kAppend, &older, &newer);
  return out;
}

Status CompositeList(Node& target, const std::string& key, const Node& source, const Node& sval) {
  NodePtr tval = target.Get(key);
  if (tval && !tval->IsNull() && !tval->IsSequence() && !IsListDirective(*tval))
    return TypeError(source, key, *tval, sval);
  int si = source.IndexOf(key);
  NodeMark kmark = static_cast<size_t>(si) < source.key_marks.size()
                       ? source.key_marks[static_cast<size_t>(si)] : NodeMark{};
  if (sval.IsSequence()) {
    // bst 1.6 (_yaml.composite_list): (?) lists accumulate, so that the
    // conditionals of every include composed before options are evaluated
    // (project.conf) all apply, the lower layer's first.
    if (key == "(?)" && tval && tval->IsSequence()) {
      for (const auto& it : sval.items) tval->items.push_back(it->Clone());
    } else {
      target.Set(key, sval.Clone(), kmark);
    }
    return Status::Ok();
  }
  CF_TRY(CheckDirective(sval));
  if (!tval || tval->IsNull()) target.Set(key, sval.Clone(), kmark);
  else if (tval->IsSequence()) target.Set(key, ApplyToList(*tval, sval));
  else target.Set(key, MergeDirectives(*tval, sval));
  return Status::Ok();
}

}  // namespace

bool IsListDirective(const Node& node) {
  if (!node.IsMapping()) return false;
  for (const auto& [k, _] : node.map)
    if (IsListKey(k)) return true;
  return false;
}

Status Composite(Node& target, const Node& source) {
  for (size_t i = 0; i < source.map.size(); ++i) {
    const auto& [key, sval] = source.map[i];
    if (sval->IsSequence() || IsListDirective(*sval)) {
      CF_TRY(CompositeList(target, key, source, *sval));
      continue;
    }
    NodeMark kmark = i < source.key_marks.size() ? source.key_marks[i] : NodeMark{};
    NodePtr tval = target.Get(key);
    if (sval->IsMapping()) {
      if (!tval || tval->IsNull()) {
        tval = Node::MakeMapping(sval->mark);
        target.Set(key, tval, kmark);
      }
      if (!tval->IsMapping()) return TypeError(source, key, *tval, *sval);
      CF_TRY(Composite(*tval, *sval));
      continue;
    }
    if (tval && (tval->IsMapping() || tval->IsSequence()))
      return TypeError(source, key, *tval, *sval);
    target.Set(key, sval->Clone(), kmark);
  }
  return Status::Ok();
}

Status FinalAssertions(const Node& node) {
  if (node.IsSequence()) {
    for (const auto& it : node.items) CF_TRY(FinalAssertions(*it));
    return Status::Ok();
  }
  if (!node.IsMapping()) return Status::Ok();
  for (const auto& [k, v] : node.map) {
    if (IsListKey(k))
      return UserError(node.KeyProvenance(k), "attempt to override non-existing list with " + k,
                       "no lower layer declares this list; use a plain list instead");
    if (k == "(?)" || k == "(@)" || k == "(!)")
      return UserError(node.KeyProvenance(k), "directive " + k + " is not allowed here");
    CF_TRY(FinalAssertions(*v));
  }
  return Status::Ok();
}

static Result<std::vector<std::string>> IncludeList(const Node& node) {
  NodePtr inc = node.Get("(@)");
  if (inc->IsScalar()) return std::vector<std::string>{inc->scalar};
  if (inc->IsSequence()) return GetStringList(node, "(@)");
  return Err(UserError(node.KeyProvenance("(@)"), "(@) must be a file name or a list of them"));
}

static std::string ChainText(const std::vector<std::string>& chain, const std::string& last) {
  std::string out;
  for (const auto& c : chain) out += c + " -> ";
  return out + last;
}

static Status IncludeOne(Node& node, const std::string& file, const Provenance& where,
                         const IncludeLoader& load, std::vector<std::string>& chain,
                         const ConditionEvaluator* eval) {
  if (std::find(chain.begin(), chain.end(), file) != chain.end())
    return UserError(where, "include cycle: " + ChainText(chain, file),
                     "remove one of the (@) includes in this chain");
  // Each level recurses (this, ProcessIncludes, the node walk): a hostile
  // chain of thousands of files overflowed the stack (issue 19). Real
  // projects nest a handful; the chain itself is not printed (it may be huge).
  constexpr size_t kMaxIncludeDepth = 100;
  if (chain.size() >= kMaxIncludeDepth)
    return UserError(where, "(@) includes nested deeper than " + std::to_string(kMaxIncludeDepth) +
                                " files (from " + chain.front() + ")",
                     "include the files from one place instead of each from the previous one");
  CF_ASSIGN_OR_RETURN(NodePtr included, load(file, where));
  // "junction.bst:file.yml" comes processed by its own project (its options,
  // its directory) from the loader.
  if (file.find(':') == std::string::npos) {
    chain.push_back(file);
    Status st = eval ? ProcessConditionals(*included, *eval) : Status::Ok();
    if (st.ok()) st = ProcessIncludes(*included, load, chain, eval);
    chain.pop_back();
    CF_TRY(st);
  }
  // The including mapping's own keys win over the included ones.
  Node old = node;
  node.map.clear();
  node.key_marks.clear();
  CF_TRY(Composite(node, *included));
  return Composite(node, old);
}

Status ProcessIncludes(Node& node, const IncludeLoader& load, std::vector<std::string>& chain,
                       const ConditionEvaluator* eval) {
  if (node.IsSequence()) {
    for (auto& it : node.items) CF_TRY(ProcessIncludes(*it, load, chain, eval));
    return Status::Ok();
  }
  if (!node.IsMapping()) return Status::Ok();
  if (node.Has("(@)")) {
    Provenance where = node.KeyProvenance("(@)");
    CF_ASSIGN_OR_RETURN(auto files, IncludeList(node));
    node.Erase("(@)");
    for (auto it = files.rbegin(); it != files.rend(); ++it)
      CF_TRY(IncludeOne(node, *it, where, load, chain, eval));
  }
  for (auto& [k, v] : node.map) CF_TRY(ProcessIncludes(*v, load, chain, eval));
  return Status::Ok();
}

static Status ApplyConditionals(Node& node, const ConditionEvaluator& eval) {
  NodePtr conds = node.Get("(?)");
  if (!conds->IsSequence())
    return UserError(node.KeyProvenance("(?)"), "(?) must be a list of {expression: mapping}");
  node.Erase("(?)");
  for (const auto& c : conds->items) {
    if (!c->IsMapping() || c->map.size() != 1)
      return UserError(c->Where(), "a conditional must be a mapping with exactly one key",
                       "write `- expression:` followed by the mapping to apply");
    const auto& [expr, value] = c->map.front();
    auto holds = eval(expr);
    if (!holds) return UserError(c->Where(), holds.error().message());
    if (!value->IsMapping())
      return UserError(value->Where(), "only mappings can be composed by (?)");
    if (*holds) CF_TRY(Composite(node, *value));
  }
  return Status::Ok();
}

Status ProcessConditionals(Node& node, const ConditionEvaluator& eval) {
  if (node.IsSequence()) {
    for (auto& it : node.items) CF_TRY(ProcessConditionals(*it, eval));
    return Status::Ok();
  }
  if (!node.IsMapping()) return Status::Ok();
  // Composition can bring new conditionals to this level: repeat until none.
  while (node.Has("(?)") || node.Has("(!)")) {
    if (NodePtr a = node.Get("(!)")) {
      std::string text = a->IsScalar() ? a->scalar : "assertion failed";
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      return UserError(node.KeyProvenance("(!)"), text);
    }
    CF_TRY(ApplyConditionals(node, eval));
  }
  for (auto& [k, v] : node.map) CF_TRY(ProcessConditionals(*v, eval));
  return Status::Ok();
}

}  // namespace crossfarm

