#include "cli/import/keepalived_parser.h"

#include <fmt/format.h>
#include <glob.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>

namespace shoal::cli::import {
namespace {

constexpr int kMaxIncludeDepth = 8;  // keepalived's own limit is of this order; it stops loops
constexpr int kMaxSubstitutionDepth = 32;

struct KaLine {
  int line;
  std::string text;
};

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

class Parser {
 public:
  Parser(const KaParseOptions& options, KaParseResult& result, int depth)
      : options_(options), result_(result), depth_(depth) {}

  void parse_text(const std::string& text, const std::string& file, const std::string& folder,
                  std::vector<KaNode>& out) {
    file_ = file;
    folder_ = folder;
    tokens_.clear();
    for (const KaLine& l : preprocess(text)) {
      tokenize_line(l.text, l.line, tokens_);
      tokens_.push_back({"\n", l.line, false});
    }
    pos_ = 0;
    parse_block(out, 0);
  }

 private:
  // keepalived's preprocessing, line by line: `@id` conditions, `$NAME=VALUE` definitions (a
  // value may go on over lines ending in '\\'), and `$NAME` / `${NAME}` replaced at use. A
  // replacement that spans lines is read as lines of the use's line number, so that every
  // statement keeps a line of the file.
  std::vector<KaLine> preprocess(const std::string& text) {
    std::vector<std::string> physical;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) physical.push_back(l);
    std::vector<KaLine> out;
    for (size_t i = 0; i < physical.size(); ++i) {
      const int number = static_cast<int>(i) + 1;
      std::string line = physical[i];
      // A definition that goes on: its lines are joined, the '\\' at each end dropped.
      const std::string t = trim(line);
      if (t.size() > 1 && t[0] == '$' && t.find('=') != std::string::npos && t.back() == '\\') {
        std::string joined = t.substr(0, t.size() - 1);
        while (i + 1 < physical.size()) {
          std::string next = trim(physical[++i]);
          const bool more = !next.empty() && next.back() == '\\';
          if (more) next.pop_back();
          joined += "\n" + next;
          if (!more) break;
        }
        line = joined;
      }
      process(line, number, out, 0);
    }
    return out;
  }

  void process(const std::string& raw, int number, std::vector<KaLine>& out, int depth) {
    std::string t = trim(raw);
    if (!t.empty() && t[0] == '@') {
      const size_t end = t.find_first_of(" \t");
      const bool negated = t.size() > 1 && t[1] == '^';
      const size_t from = negated ? 2 : 1;
      const std::string id =
          t.substr(from, end == std::string::npos ? std::string::npos : end - from);
      const bool keep = !options_.config_id.empty() && ((id == options_.config_id) != negated);
      if (options_.config_id.empty())
        result_.warnings.push_back(
            {Source{file_, number, t},
             "a line for one config id ('@id'): dropped; pass --config-id to choose one "
             "(keepalived's default is the node name)"});
      if (!keep) return;
      t = end == std::string::npos ? "" : trim(t.substr(end));
    }
    if (t.size() > 1 && t[0] == '$' && define(t)) return;
    if (depth > kMaxSubstitutionDepth) {
      result_.errors.push_back(
          fmt::format("{}:{}: parameters replace each other without end", file_, number));
      return;
    }
    const std::string replaced = substitute(t);
    if (replaced == t) {
      out.push_back({number, t});
      return;
    }
    std::istringstream lines(replaced);
    for (std::string l; std::getline(lines, l);) process(l, number, out, depth + 1);
  }

  // `$NAME=VALUE`: true when `t` is a definition (stored).
  bool define(const std::string& t) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos || eq < 2) return false;
    const std::string name = t.substr(1, eq - 1);
    if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    parameters_[name] = trim(t.substr(eq + 1));
    return true;
  }

  // One round of replacement: `${NAME}` anywhere, `$NAME` before whitespace or the end. An
  // unknown name stays as it is, as in keepalived.
  std::string substitute(const std::string& t) const {
    std::string out;
    for (size_t i = 0; i < t.size();) {
      if (t[i] != '$') {
        out += t[i++];
        continue;
      }
      if (i + 1 < t.size() && t[i + 1] == '{') {
        const size_t close = t.find('}', i + 2);
        if (close != std::string::npos) {
          if (auto v = value(t.substr(i + 2, close - i - 2))) {
            out += *v;
            i = close + 1;
            continue;
          }
        }
      } else {
        size_t e = i + 1;
        while (e < t.size() && (std::isalnum(static_cast<unsigned char>(t[e])) || t[e] == '_')) ++e;
        if (e > i + 1 && (e == t.size() || t[e] == ' ' || t[e] == '\t'))
          if (auto v = value(t.substr(i + 1, e - i - 1))) {
            out += *v;
            i = e;
            continue;
          }
      }
      out += t[i++];
    }
    return out;
  }

  std::optional<std::string> value(const std::string& name) const {
    if (name == "_PWD") return folder_;
    if (name == "_INSTANCE" && !options_.config_id.empty()) return options_.config_id;
    auto it = parameters_.find(name);
    if (it == parameters_.end()) return std::nullopt;
    return it->second;
  }

  void error(int line, const std::string& text) {
    result_.errors.push_back(fmt::format("{}:{}: {}", file_, line, text));
  }

  // Reads statements up to the matching "}" (true) or the end of the file (false).
  bool parse_block(std::vector<KaNode>& out, int depth) {
    std::vector<KaToken> words;
    auto finish = [&] {
      if (words.empty()) return;
      KaNode node;
      node.key = words[0].text;
      node.line = words[0].line;
      node.file = file_;
      for (size_t i = 1; i < words.size(); ++i) node.args.push_back(words[i].text);
      words.clear();
      // include and its checked variants (includer, includem, includew, includeb, includea):
      // here a file that cannot be read or a pattern that matches nothing is a warning.
      if (node.key.rfind("include", 0) == 0 && node.key.size() <= 8) {
        include(node, out);
        return;
      }
      out.push_back(std::move(node));
    };
    while (pos_ < tokens_.size()) {
      const KaToken& t = tokens_[pos_++];
      if (!t.quoted && t.text == "\n") {
        finish();
      } else if (!t.quoted && t.text == "{") {
        KaNode* owner = nullptr;
        if (!words.empty()) {
          finish();
          owner = &out.back();
        } else if (!out.empty() && !out.back().block) {
          owner = &out.back();  // the brace on a line of its own
        }
        if (!owner) {
          error(t.line, "'{' opens a block with no keyword before it");
          std::vector<KaNode> ignored;
          if (!parse_block(ignored, depth + 1)) return false;
          continue;
        }
        owner->block = true;
        const int open_line = t.line;
        std::vector<KaNode> children;
        const bool closed = parse_block(children, depth + 1);
        owner->children = std::move(children);
        if (!closed) {
          error(open_line, "the block opened here is never closed (a '}' is missing)");
          return false;
        }
      } else if (!t.quoted && t.text == "}") {
        finish();
        if (depth == 0) {
          error(t.line, "'}' closes no block");
          continue;
        }
        return true;
      } else {
        words.push_back(t);
      }
    }
    finish();
    return false;
  }

  void include(const KaNode& node, std::vector<KaNode>& out) {
    if (node.args.empty()) {
      result_.warnings.push_back({node.source(), "'include' names no file: ignored"});
      return;
    }
    if (depth_ >= kMaxIncludeDepth) {
      error(node.line,
            fmt::format("includes nest deeper than {} files (a loop?)", kMaxIncludeDepth));
      return;
    }
    const std::string pattern = !node.args[0].empty() && node.args[0][0] == '/'
                                    ? node.args[0]
                                    : folder_ + "/" + node.args[0];
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_BRACE, nullptr, &g);
    if (rc != 0 || g.gl_pathc == 0) {
      result_.warnings.push_back(
          {node.source(), fmt::format("no file matches {}: nothing included", pattern)});
      globfree(&g);
      return;
    }
    std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    for (const std::string& f : files) {
      const auto text = read_text(f);
      if (!text) {
        error(node.line, fmt::format("cannot read included file {}", f));
        continue;
      }
      Parser inner(options_, result_, depth_ + 1);
      inner.parse_text(*text, base_name(f), std::filesystem::path(f).parent_path().string(), out);
    }
  }

  const KaParseOptions& options_;
  KaParseResult& result_;
  int depth_;
  std::string file_, folder_;
  std::vector<KaToken> tokens_;
  size_t pos_ = 0;
  std::map<std::string, std::string> parameters_;
};

}  // namespace

Source KaNode::source() const {
  std::string text = key;
  for (const std::string& a : args) text += " " + a;
  return Source{file, line, text};
}

const KaNode* KaNode::child(std::string_view k) const {
  for (const KaNode& c : children)
    if (c.key == k) return &c;
  return nullptr;
}

namespace {

// A backslash escape inside quotes, as keepalived reads it (like the shell's $'...'); `i` is
// at the backslash and ends past the escape.
char unescape(const std::string& t, size_t& i) {
  const char c = t[i + 1];
  i += 2;
  switch (c) {
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'E':
      return '\x1b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    case 'c':
      return i < t.size() ? static_cast<char>(t[i++] & 0x1f) : 'c';
    case 'x': {
      int v = 0, n = 0;
      while (n < 2 && i < t.size() && std::isxdigit(static_cast<unsigned char>(t[i]))) {
        v = v * 16 + (std::isdigit(static_cast<unsigned char>(t[i]))
                          ? t[i] - '0'
                          : (std::tolower(t[i]) - 'a' + 10));
        ++i, ++n;
      }
      return n ? static_cast<char>(v) : 'x';
    }
    default:
      if (c >= '0' && c <= '7') {
        int v = c - '0', n = 1;
        while (n < 3 && i < t.size() && t[i] >= '0' && t[i] <= '7') v = v * 8 + (t[i++] - '0'), ++n;
        return static_cast<char>(v);
      }
      return c;  // \\ \" \' and any other character: itself
  }
}

}  // namespace

void tokenize_line(const std::string& text, int line, std::vector<KaToken>& out) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '!' || c == '#') {
      return;  // a comment, to the end of the line
    } else if (c == '{' || c == '}') {
      out.push_back({std::string(1, c), line, false});
      ++i;
    } else {
      // A word: quoted parts (" or ') join the unquoted ones around them, as in the shell;
      // inside quotes, comment marks, braces and spaces are the word's, and backslashes escape.
      std::string word;
      bool quoted = false;
      bool in_parameter =
          false;  // inside an unknown ${NAME}, left as it is: its braces are its own
      while (i < n) {
        const char ch = text[i];
        if (ch == '{' && !word.empty() && word.back() == '$') in_parameter = true;
        if (in_parameter && (ch == '{' || ch == '}')) {
          in_parameter = ch == '{';
          word += ch;
          ++i;
          continue;
        }
        if (ch == '"' || ch == '\'') {
          quoted = true;
          ++i;
          while (i < n && text[i] != ch) {
            if (text[i] == '\\' && i + 1 < n)
              word += unescape(text, i);
            else
              word += text[i++];
          }
          if (i < n) ++i;  // the closing quote; an unclosed one ends with the line
          continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '{' || ch == '}' ||
            ch == '!' || ch == '#')
          break;
        word += ch;
        ++i;
      }
      out.push_back({word, line, quoted});
    }
  }
}

std::vector<KaToken> ka_tokenize(const std::string& text) {
  std::vector<KaToken> out;
  std::istringstream in(text);
  int line = 0;
  for (std::string l; std::getline(in, l);) {
    tokenize_line(l, ++line, out);
    out.push_back({"\n", line, false});
  }
  return out;
}

KaParseResult parse_keepalived_text(const std::string& text, const std::string& file,
                                    const std::string& folder, const KaParseOptions& options) {
  KaParseResult result;
  Parser parser(options, result, 0);
  parser.parse_text(text, file, folder, result.statements);
  return result;
}

KaParseResult parse_keepalived_file(const std::string& path, const KaParseOptions& options) {
  const auto text = read_text(path);
  if (!text) {
    KaParseResult r;
    r.errors.push_back(fmt::format("{}: cannot read the file", path));
    return r;
  }
  const std::filesystem::path p(path);
  const std::string folder = p.has_parent_path() ? p.parent_path().string() : ".";
  return parse_keepalived_text(*text, base_name(path), folder, options);
}

}  // namespace shoal::cli::import
