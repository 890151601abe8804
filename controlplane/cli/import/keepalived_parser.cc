#include "cli/import/keepalived_parser.h"

#include <fmt/format.h>
#include <glob.h>

#include <filesystem>
#include <sstream>

namespace shoal::cli::import {
namespace {

constexpr int kMaxIncludeDepth = 8;  // keepalived's own limit is of this order; it stops loops

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
    tokens_ = ka_tokenize(select_lines(text));
    pos_ = 0;
    parse_block(out, 0);
  }

 private:
  // Applies keepalived's `@id` prefixes line by line; a dropped line stays as an empty one so
  // that line numbers keep matching the file.
  std::string select_lines(const std::string& text) {
    std::istringstream in(text);
    std::string line, out;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      const std::string t = trim(line);
      if (!t.empty() && t[0] == '@') {
        const size_t end = t.find_first_of(" \t");
        const bool negated = t.size() > 1 && t[1] == '^';
        const std::string id = t.substr(negated ? 2 : 1, end == std::string::npos ? std::string::npos
                                                                                   : end - (negated ? 2 : 1));
        const std::string rest = end == std::string::npos ? "" : t.substr(end);
        const bool keep = options_.config_id.empty() ? false : ((id == options_.config_id) != negated);
        if (options_.config_id.empty())
          result_.warnings.push_back(
              {Source{file_, number, t},
               "a line for one config id ('@id'): dropped; pass --config-id to choose one"});
        out += keep ? rest : "";
      } else {
        out += line;
      }
      out += '\n';
    }
    return out;
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
      if (node.key == "include") {
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
      error(node.line, fmt::format("includes nest deeper than {} files (a loop?)", kMaxIncludeDepth));
      return;
    }
    const std::string pattern =
        !node.args[0].empty() && node.args[0][0] == '/' ? node.args[0] : folder_ + "/" + node.args[0];
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_BRACE, nullptr, &g);
    if (rc != 0 || g.gl_pathc == 0) {
      result_.warnings.push_back({node.source(), fmt::format("no file matches {}: nothing included", pattern)});
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
      inner.parse_text(*text, base_name(f),
                       std::filesystem::path(f).parent_path().string(), out);
    }
  }

  const KaParseOptions& options_;
  KaParseResult& result_;
  int depth_;
  std::string file_, folder_;
  std::vector<KaToken> tokens_;
  size_t pos_ = 0;
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

std::vector<KaToken> ka_tokenize(const std::string& text) {
  std::vector<KaToken> out;
  int line = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == '\n') {
      out.push_back({"\n", line, false});
      ++line;
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '!' || c == '#') {
      while (i < n && text[i] != '\n') ++i;
    } else if (c == '{' || c == '}') {
      out.push_back({std::string(1, c), line, false});
      ++i;
    } else if (c == '"') {
      // A quoted string ends at the next quote on its line; keepalived has no escapes in it.
      std::string word;
      ++i;
      while (i < n && text[i] != '"' && text[i] != '\n') word += text[i++];
      if (i < n && text[i] == '"') ++i;
      out.push_back({word, line, true});
    } else {
      std::string word;
      while (i < n && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n' &&
             text[i] != '{' && text[i] != '}' && text[i] != '"' && text[i] != '!' && text[i] != '#')
        word += text[i++];
      out.push_back({word, line, false});
    }
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
