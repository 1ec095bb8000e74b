#include "common/option_expr.h"

#include <cctype>
#include <charconv>

namespace crossfarm {

ExprValue ExprValue::Bool(bool v) {
  ExprValue e;
  e.type = Type::kBool;
  e.b = v;
  return e;
}

ExprValue ExprValue::String(std::string v) {
  ExprValue e;
  e.type = Type::kString;
  e.s = std::move(v);
  return e;
}

ExprValue ExprValue::List(std::vector<std::string> v) {
  ExprValue e;
  e.type = Type::kList;
  e.list = std::move(v);
  return e;
}

bool ExprValue::Truthy() const {
  switch (type) {
    case Type::kNone: return false;
    case Type::kBool: return b;
    case Type::kInt: return i != 0;
    case Type::kString: return !s.empty();
    case Type::kList: return !list.empty();
  }
  return false;
}

namespace {

struct Token {
  enum class Kind { kEnd, kIdent, kString, kInt, kOp };
  Kind kind = Kind::kEnd;
  std::string text;
};

class Parser {
 public:
  Parser(std::string_view src, const ExprLookup& lookup) : src_(src), lookup_(lookup) {}
  int depth_ = 0;

  Result<ExprValue> Parse() {
    CF_TRY(Next());
    CF_ASSIGN_OR_RETURN(ExprValue v, ParseOr());
    if (tok_.kind != Token::Kind::kEnd) return Fail("unexpected '" + tok_.text + "'");
    return v;
  }

 private:
  static Status Error(std::string msg) { return Status::InvalidArgument(std::move(msg)); }
  std::unexpected<Status> Fail(std::string msg) const {
    std::string shown(src_.substr(0, 120));
    if (src_.size() > shown.size()) shown += "...";
    return Err(Error("invalid expression '" + shown + "': " + msg));
  }

  Status Next() {
    while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    tok_ = {};
    if (pos_ >= src_.size()) return Status::Ok();
    char c = src_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return LexIdent();
    if (std::isdigit(static_cast<unsigned char>(c))) return LexInt();
    if (c == '"' || c == '\'') return LexString(c);
    static const char* kOps[] = {"==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ","};
    for (const char* op : kOps) {
      std::string_view o(op);
      if (src_.substr(pos_, o.size()) == o) {
        tok_ = {Token::Kind::kOp, std::string(o)};
        pos_ += o.size();
        return Status::Ok();
      }
    }
    return Fail(std::string("unexpected character '") + c + "'").error();
  }

  Status LexIdent() {
    size_t start = pos_;
    while (pos_ < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos_])) ||
                                  src_[pos_] == '_' || src_[pos_] == '-'))
      ++pos_;
    tok_ = {Token::Kind::kIdent, std::string(src_.substr(start, pos_ - start))};
    return Status::Ok();
  }

  Status LexInt() {
    size_t start = pos_;
    while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    tok_ = {Token::Kind::kInt, std::string(src_.substr(start, pos_ - start))};
    return Status::Ok();
  }

  Status LexString(char quote) {
    std::string out;
    ++pos_;
    while (pos_ < src_.size() && src_[pos_] != quote) {
      if (src_[pos_] == '\\' && pos_ + 1 < src_.size()) ++pos_;
      out += src_[pos_++];
    }
    if (pos_ >= src_.size()) return Fail("unterminated string").error();
    ++pos_;
    tok_ = {Token::Kind::kString, std::move(out)};
    return Status::Ok();
  }

  bool IsKeyword(std::string_view kw) const {
    return tok_.kind == Token::Kind::kIdent && tok_.text == kw;
  }
  bool IsOp(std::string_view op) const {
    return tok_.kind == Token::Kind::kOp && tok_.text == op;
  }

  Result<ExprValue> ParseOr() {
    CF_ASSIGN_OR_RETURN(ExprValue lhs, ParseAnd());
    while (IsKeyword("or")) {
      CF_TRY(Next());
      CF_ASSIGN_OR_RETURN(ExprValue rhs, ParseAnd());
      lhs = ExprValue::Bool(lhs.Truthy() || rhs.Truthy());
    }
    return lhs;
  }

  Result<ExprValue> ParseAnd() {
    CF_ASSIGN_OR_RETURN(ExprValue lhs, ParseNot());
    while (IsKeyword("and")) {
      CF_TRY(Next());
      CF_ASSIGN_OR_RETURN(ExprValue rhs, ParseNot());
      lhs = ExprValue::Bool(lhs.Truthy() && rhs.Truthy());
    }
    return lhs;
  }

  // The parser recurses once per `not` and per bracket: a hostile expression
  // (100,000 `not`s) must be an error, not a stack overflow.
  static constexpr int kMaxDepth = 100;
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };

  Result<ExprValue> ParseNot() {
    if (IsKeyword("not")) {
      DepthGuard guard(depth_);
      if (depth_ > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
      CF_TRY(Next());
      CF_ASSIGN_OR_RETURN(ExprValue v, ParseNot());
      return ExprValue::Bool(!v.Truthy());
    }
    return ParseCompare();
  }

  Result<ExprValue> ParseCompare() {
    CF_ASSIGN_OR_RETURN(ExprValue lhs, ParsePrimary());
    std::string op;
    if (tok_.kind == Token::Kind::kOp &&
        (tok_.text == "==" || tok_.text == "!=" || tok_.text[0] == '<' || tok_.text[0] == '>')) {
      op = tok_.text;
    } else if (IsKeyword("in")) {
      op = "in";
    } else if (IsKeyword("not")) {
      CF_TRY(Next());
      if (!IsKeyword("in")) return Fail("expected 'in' after 'not'");
      op = "not in";
    } else {
      return lhs;
    }
    CF_TRY(Next());
    CF_ASSIGN_OR_RETURN(ExprValue rhs, ParsePrimary());
    return Compare(lhs, op, rhs);
  }

  Result<ExprValue> Compare(const ExprValue& a, const std::string& op, const ExprValue& b) {
    if (op == "==") return ExprValue::Bool(Equal(a, b));
    if (op == "!=") return ExprValue::Bool(!Equal(a, b));
    if (op == "in" || op == "not in") {
      bool found = false;
      if (b.type == ExprValue::Type::kList && a.type == ExprValue::Type::kString) {
        for (const auto& x : b.list) found = found || x == a.s;
      } else if (b.type == ExprValue::Type::kString && a.type == ExprValue::Type::kString) {
        found = b.s.find(a.s) != std::string::npos;
      } else if (b.type != ExprValue::Type::kList) {
        return Fail("right side of 'in' must be a list or a string");
      }
      return ExprValue::Bool(op == "in" ? found : !found);
    }
    int cmp;
    if (a.type == ExprValue::Type::kInt && b.type == ExprValue::Type::kInt)
      cmp = a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    else if (a.type == ExprValue::Type::kString && b.type == ExprValue::Type::kString)
      cmp = a.s.compare(b.s);
    else
      return Fail("'" + op + "' compares two numbers or two strings");
    if (op == "<") return ExprValue::Bool(cmp < 0);
    if (op == ">") return ExprValue::Bool(cmp > 0);
    if (op == "<=") return ExprValue::Bool(cmp <= 0);
    return ExprValue::Bool(cmp >= 0);
  }

  static bool Equal(const ExprValue& a, const ExprValue& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
      case ExprValue::Type::kNone: return true;
      case ExprValue::Type::kBool: return a.b == b.b;
      case ExprValue::Type::kInt: return a.i == b.i;
      case ExprValue::Type::kString: return a.s == b.s;
      case ExprValue::Type::kList: return a.list == b.list;
    }
    return false;
  }

  Result<ExprValue> ParsePrimary() {
    Token t = tok_;
    if (t.kind == Token::Kind::kEnd) return Fail("unexpected end");
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (IsOp("(")) {
      CF_TRY(Next());
      CF_ASSIGN_OR_RETURN(ExprValue v, ParseOr());
      if (!IsOp(")")) return Fail("missing ')'");
      CF_TRY(Next());
      return v;
    }
    if (IsOp("[")) return ParseList();
    if (t.kind == Token::Kind::kOp) return Fail("unexpected '" + t.text + "'");
    CF_TRY(Next());
    if (t.kind == Token::Kind::kString) return ExprValue::String(t.text);
    if (t.kind == Token::Kind::kInt) {
      ExprValue v;
      v.type = ExprValue::Type::kInt;
      // from_chars, not stoll: an integer beyond 64 bits is the project's
      // error, not an uncaught std::out_of_range (fuzz finding, 2026-12-06).
      auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v.i);
      if (ec != std::errc() || end != t.text.data() + t.text.size())
        return Fail("integer '" + t.text + "' is out of range (at most 19 digits)");
      return v;
    }
    if (t.text == "true" || t.text == "True") return ExprValue::Bool(true);
    if (t.text == "false" || t.text == "False") return ExprValue::Bool(false);
    if (t.text == "none" || t.text == "None") return ExprValue{};
    if (t.text == "and" || t.text == "or" || t.text == "in") return Fail("unexpected '" + t.text + "'");
    auto v = lookup_(t.text);
    if (!v) return Err(v.error());
    return *v;
  }

  Result<ExprValue> ParseList() {
    CF_TRY(Next());
    std::vector<std::string> out;
    while (!IsOp("]")) {
      CF_ASSIGN_OR_RETURN(ExprValue v, ParsePrimary());
      if (v.type != ExprValue::Type::kString) return Fail("list literals hold strings only");
      out.push_back(v.s);
      if (IsOp(",")) CF_TRY(Next());
      else if (!IsOp("]")) return Fail("expected ',' or ']' in list");
    }
    CF_TRY(Next());
    return ExprValue::List(std::move(out));
  }

  std::string_view src_;
  const ExprLookup& lookup_;
  size_t pos_ = 0;
  Token tok_;
};

}  // namespace

Result<bool> EvaluateOptionExpression(std::string_view expr, const ExprLookup& lookup) {
  Parser p(expr, lookup);
  CF_ASSIGN_OR_RETURN(ExprValue v, p.Parse());
  return v.Truthy();
}

}  // namespace crossfarm
