// keepalived.conf's grammar, as far as an importer needs it: statements of words on one line,
// blocks in braces, quoted strings (" or ', joined to the word around them, with backslash
// escapes), comments from '!' or '#' to the end of the line, `include GLOB` (relative to the
// including file's folder), lines kept for one config id (`@id` / `@^id`) and parameters
// (`$NAME=VALUE`, multi-line with '\', used as `$NAME` or `${NAME}`). What the words mean
// is the mapper's business.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/import/source.h"

namespace shoal::cli::import {

// One statement: its keyword, the words after it, and its block's statements if it opened one.
struct KaNode {
  std::string key;
  std::vector<std::string> args;
  std::string file;
  int line = 0;
  bool block = false;
  std::vector<KaNode> children;

  Source source() const;  // file:line and the statement's words
  const KaNode* child(std::string_view key) const;
};

struct KaParseOptions {
  // keepalived's `-i ID`: lines starting `@ID` are kept, `@^ID` dropped; other `@` lines
  // follow the same rule. Empty: every `@` line is dropped, with a warning.
  std::string config_id;
};

struct KaParseResult {
  std::vector<KaNode> statements;
  std::vector<std::string> errors;  // "FILE:LINE: text"; none means the tree is whole
  Warnings warnings;
};

// Splits one file's text into tokens: words (a quoted string is one word, without its quotes),
// "{", "}" and the end of each line as "\n". Exposed for tests.
struct KaToken {
  std::string text;
  int line = 0;
  bool quoted = false;
};
std::vector<KaToken> ka_tokenize(const std::string& text);
// The tokens of one line (no "\n" token), numbered `line`.
void tokenize_line(const std::string& text, int line, std::vector<KaToken>& out);

KaParseResult parse_keepalived_text(const std::string& text, const std::string& file,
                                    const std::string& folder, const KaParseOptions& options = {});
KaParseResult parse_keepalived_file(const std::string& path, const KaParseOptions& options = {});

}  // namespace shoal::cli::import
