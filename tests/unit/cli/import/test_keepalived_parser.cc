// keepalived.conf's tokenizer and block parser (controlplane/cli/import/keepalived_parser.cc):
// comments, quotes, braces where keepalived puts them, includes and config ids.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/import/keepalived_parser.h"

using namespace shoal::cli::import;

namespace {

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for (const KaToken& t : ka_tokenize(text)) out.push_back(t.text == "\n" ? "NL" : t.text);
  return out;
}

KaParseResult parse(const std::string& text, const KaParseOptions& o = {}) {
  return parse_keepalived_text(text, "k.conf", ".", o);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "shoal-import-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((path / name).parent_path());
    std::ofstream(path / name) << text;
  }
};

}  // namespace

TEST_CASE("tokenizer: comments start with ! or # anywhere outside quotes") {
  CHECK(words("a b ! c d\n# all\ne #f\n") ==
        std::vector<std::string>{"a", "b", "NL", "NL", "e", "NL"});
  CHECK(words("inhibit_on_failure! no space\n") ==
        std::vector<std::string>{"inhibit_on_failure", "NL"});
}

TEST_CASE("tokenizer: a quoted string is one word, comment marks and braces inside it kept") {
  const auto t = ka_tokenize("misc_path \"/bin/x a#b {c} !d\"\n");
  REQUIRE(t.size() == 3);
  CHECK(t[1].text == "/bin/x a#b {c} !d");
  CHECK(t[1].quoted);
  CHECK(words("x \"\"\n") == std::vector<std::string>{"x", "", "NL"});
  // An unterminated quote ends with its line.
  CHECK(words("x \"open\ny\n") == std::vector<std::string>{"x", "open", "NL", "y", "NL"});
}

TEST_CASE("tokenizer: quotes join the word around them, single quotes too, escapes inside") {
  CHECK(words("s pre\" mid dle \"post\n") ==
        std::vector<std::string>{"s", "pre mid dle post", "NL"});
  CHECK(words("s 'a \"b\" c' d\n") == std::vector<std::string>{"s", "a \"b\" c", "d", "NL"});
  CHECK(words("s \"a\\\"b\\\\c\\td\\x41\\101\"\n") ==
        std::vector<std::string>{"s", "a\"b\\c\tdAA", "NL"});
  CHECK(words("s a\\b\n") == std::vector<std::string>{"s", "a\\b", "NL"});  // unquoted: as is
}

TEST_CASE("tokenizer: braces are words of their own, with or without spaces") {
  CHECK(words("vs 1 2{a 1}\n") ==
        std::vector<std::string>{"vs", "1", "2", "{", "a", "1", "}", "NL"});
  CHECK(words("\tx\r\n") == std::vector<std::string>{"x", "NL"});
}

TEST_CASE("tokenizer: line numbers count every line, comments and blank ones too") {
  const auto t = ka_tokenize("! c\n\nkey v\n");
  REQUIRE(t.size() == 5);
  CHECK(t[2].text == "key");
  CHECK(t[2].line == 3);
}

TEST_CASE("parser: statements, nested blocks and their lines") {
  const auto r = parse(R"(global_defs {
   router_id X
}
virtual_server 10.0.0.1 80 {
  lb_algo wlc
  real_server 10.0.0.11 80 {
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
)");
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 2);
  const KaNode& vs = r.statements[1];
  CHECK(vs.key == "virtual_server");
  CHECK(vs.args == std::vector<std::string>{"10.0.0.1", "80"});
  CHECK(vs.line == 4);
  CHECK(vs.block);
  const KaNode* rs = vs.child("real_server");
  REQUIRE(rs);
  CHECK(rs->line == 6);
  const KaNode* check = rs->child("TCP_CHECK");
  REQUIRE(check);
  REQUIRE(check->child("connect_timeout"));
  CHECK(check->child("connect_timeout")->args == std::vector<std::string>{"3"});
  CHECK(check->child("connect_timeout")->line == 8);
  CHECK(vs.source().describe() == "k.conf:4 virtual_server 10.0.0.1 80");
}

TEST_CASE("parser: a brace on its own line opens the block of the statement before") {
  const auto r = parse("vrrp_instance V\n{\n  priority 5\n}\n");
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 1);
  CHECK(r.statements[0].block);
  REQUIRE(r.statements[0].child("priority"));
}

TEST_CASE("parser: one-line blocks and several closing braces on a line") {
  const auto r = parse("a { b { c 1 } }\nd 2\n");
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 2);
  REQUIRE(r.statements[0].child("b"));
  REQUIRE(r.statements[0].child("b")->child("c"));
  CHECK(r.statements[1].key == "d");
}

TEST_CASE("parser: unbalanced braces are errors with their line") {
  auto r = parse("a {\n  b 1\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "k.conf:1: the block opened here is never closed (a '}' is missing)");
  r = parse("a 1\n}\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "k.conf:2: '}' closes no block");
  r = parse("{\n}\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("k.conf:1: '{' opens a block with no keyword", 0) == 0);
}

TEST_CASE("parser: include splices files in place, relative to the including file, by glob") {
  TempDir d;
  d.write("keepalived.conf", "include conf.d/*.conf\nvrrp_instance LAST {\n}\n");
  d.write("conf.d/a.conf", "virtual_server 10.0.0.1 80 {\n  include ../rs.inc\n}\n");
  d.write("conf.d/b.conf", "\nvirtual_server 10.0.0.2 80 {\n}\n");
  d.write("rs.inc", "real_server 10.0.0.11 80 {\n}\n");
  const auto r = parse_keepalived_file((d.path / "keepalived.conf").string());
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 3);
  CHECK(r.statements[0].file == "a.conf");
  CHECK(r.statements[1].file == "b.conf");
  CHECK(r.statements[1].line == 2);
  CHECK(r.statements[2].file == "keepalived.conf");
  const KaNode* rs = r.statements[0].child("real_server");
  REQUIRE(rs);
  CHECK(rs->source().describe() == "rs.inc:1 real_server 10.0.0.11 80");
}

TEST_CASE("parser: an include that matches nothing is a warning; a loop is an error") {
  TempDir d;
  d.write("k.conf", "include missing/*.conf\n");
  auto r = parse_keepalived_file((d.path / "k.conf").string());
  CHECK(r.errors.empty());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].at.line == 1);
  d.write("loop.conf", "include loop.conf\n");
  r = parse_keepalived_file((d.path / "loop.conf").string());
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].find("nest deeper") != std::string::npos);
}

TEST_CASE("parser: @id lines are kept for their config id only") {
  const std::string text = "a {\n@high p 170\n@low p 85\n@^high q 1\n}\n";
  KaParseOptions high;
  high.config_id = "high";
  auto r = parse(text, high);
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements[0].children.size() == 1);
  CHECK(r.statements[0].children[0].args == std::vector<std::string>{"170"});
  CHECK(r.statements[0].children[0].line == 2);
  KaParseOptions low;
  low.config_id = "low";
  r = parse(text, low);
  REQUIRE(r.statements[0].children.size() == 2);
  CHECK(r.statements[0].children[1].key == "q");
  r = parse(text);  // no id: every @ line dropped, each warned about
  CHECK(r.statements[0].children.empty());
  REQUIRE(r.warnings.size() == 3);
  CHECK(r.warnings[0].at.line == 2);
}

TEST_CASE("parser: parameters are replaced at use, braced anywhere or bare before a space") {
  const auto r = parse(R"($NET=10.9
$HOST=${NET}.${LAST}
$LAST=7
virtual_server ${HOST} 80 {
  $LAST=8
  real_server ${HOST} 80 {
    weight $W
  }
  misc $LAST
  money $5 ${UNSET}
}
)");
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 1);
  const KaNode& vs = r.statements[0];
  CHECK(vs.args == std::vector<std::string>{"10.9.7", "80"});
  CHECK(vs.line == 4);
  REQUIRE(vs.child("real_server"));
  CHECK(vs.child("real_server")->args[0] == "10.9.8");
  CHECK(vs.child("real_server")->child("weight")->args[0] == "$W");  // unknown: kept
  CHECK(vs.child("misc")->args[0] == "8");
  CHECK(vs.child("money")->args == std::vector<std::string>{"$5", "${UNSET}"});
}

TEST_CASE("parser: a multi-line parameter expands to statements on the line that uses it") {
  const auto r = parse(R"($RS= \
real_server 10.0.0.${N} 80 { \
  weight ${N} \
}
virtual_server 10.0.0.100 80 {
  $N=1
  $RS
  $N=2
  $RS
}
)");
  REQUIRE(r.errors.empty());
  REQUIRE(r.statements.size() == 1);
  const auto& rs = r.statements[0].children;
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].args[0] == "10.0.0.1");
  CHECK(rs[0].line == 7);
  CHECK(rs[0].child("weight")->args[0] == "1");
  CHECK(rs[1].args[0] == "10.0.0.2");
  CHECK(rs[1].line == 9);
}

TEST_CASE("parser: conditions and parameters together, and a loop of parameters is an error") {
  KaParseOptions main;
  main.config_id = "main";
  auto r =
      parse("@main $P=240\n@backup $P=200\n$IF_MAIN=@main\nv {\n  priority $P\n  $IF_MAIN x 1\n}\n",
            main);
  REQUIRE(r.errors.empty());
  CHECK(r.statements[0].child("priority")->args[0] == "240");
  CHECK(r.statements[0].child("x"));
  r = parse("$A=${B}\n$B=${A}\nv ${A}\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "k.conf:3: parameters replace each other without end");
}
