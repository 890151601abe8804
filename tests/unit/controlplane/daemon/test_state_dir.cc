// The state directory (controlplane/daemon/state_dir.cc): admin states saved whole, read back
// at start-up under the reload rule, a missing file normal, a corrupt one ignored with a
// warning, a directory made when missing, and a directory that cannot be made or written
// logged once without stopping anything.
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "api/admin_state.h"
#include "config/config.h"
#include "controlplane/web_config.h"
#include "daemon/state_dir.h"
#include "log_capture.h"

using shoal::cp::AdminState;
using shoal::cp::AdminStates;
using shoal::cp::StateDir;
using shoal::hc::TargetKey;
using shoal::test::LogCapture;
using shoal::test::web_config;

namespace fs = std::filesystem;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string name = (fs::temp_directory_path() / "shoal-state-XXXXXX").string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ino_t inode(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("state dir: admin states outlive a restart", "[state_dir]") {
  TempDir tmp;
  const fs::path dir = tmp.path / "var" / "lib" / "shoal";
  LogCapture log;
  {
    StateDir first(dir.string());
    CHECK(first.load_admin(web_config()).entries().empty());  // a first start: no file
    CHECK_FALSE(fs::exists(dir));  // and nothing made for nothing
    AdminStates a;
    a.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
    a.set_weight(TargetKey{"web", "rs2"}, 9, 3);
    REQUIRE(first.save_admin(a));
  }
  const fs::path file = dir / StateDir::kAdminStateFile;
  REQUIRE(fs::is_regular_file(file));
  CHECK((fs::status(dir).permissions() & fs::perms::all) ==
        (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  CHECK_FALSE(fs::exists(file.string() + ".shoald-new"));
  CHECK(log.text().find("error") == std::string::npos);

  SECTION("the next start takes them back") {
    const ino_t saved_inode = inode(file);
    StateDir next(dir.string());
    const AdminStates b = next.load_admin(web_config());
    CHECK(b.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
    CHECK(b.get(TargetKey{"web", "rs2"}).weight == 9u);
    CHECK(log.text().find("admin states of 2 backend(s) restored") != std::string::npos);
    // Unchanged states leave the file alone: no new file renamed over it.
    REQUIRE(next.save_admin(b));
    CHECK(inode(file) == saved_inode);
  }
  SECTION("a config whose file weight changed drops the override, as a reload does") {
    StateDir next(dir.string());
    const AdminStates b = next.load_admin(web_config(4));
    CHECK(b.get(TargetKey{"web", "rs1"}).state == AdminState::draining);
    CHECK_FALSE(b.get(TargetKey{"web", "rs2"}).weight);
    CHECK(log.text().find("1 no longer in the config, or overridden") != std::string::npos);
  }
  SECTION("going back to every backend enabled is saved too") {
    StateDir next(dir.string());
    AdminStates b = next.load_admin(web_config());
    b.set_state(TargetKey{"web", "rs1"}, AdminState::enabled);
    b.set_weight(TargetKey{"web", "rs2"}, 3, 3);
    b.retain(web_config(5));  // the override goes with the file's new weight
    REQUIRE(next.save_admin(b));
    CHECK(StateDir(dir.string()).load_admin(web_config(5)).entries().empty());
    CHECK(read(file).find("\"backends\": []") != std::string::npos);
  }
}

TEST_CASE("state dir: a corrupt or unreadable file is ignored with a warning", "[state_dir]") {
  TempDir tmp;
  const fs::path file = tmp.path / StateDir::kAdminStateFile;
  LogCapture log;
  SECTION("not JSON") {
    write(file, "{\"version\": 1, \"backends\": [{\"service\": \"web\"");
    StateDir dir(tmp.path.string());
    CHECK(dir.load_admin(web_config()).entries().empty());
    CHECK(log.text().find("warning " + file.string() + ": ignored, not JSON") !=
          std::string::npos);
    // The next change replaces it.
    AdminStates a;
    a.set_state(TargetKey{"web", "rs2"}, AdminState::disabled);
    REQUIRE(dir.save_admin(a));
    const AdminStates back = StateDir(tmp.path.string()).load_admin(web_config());
    CHECK(back.get(TargetKey{"web", "rs2"}).state == AdminState::disabled);
  }
  SECTION("a bad entry") {
    write(file, R"({"version": 1, "backends": [{"service": "web", "backend": "rs1",
                    "state": "sleeping"}]})");
    CHECK(StateDir(tmp.path.string()).load_admin(web_config()).entries().empty());
    CHECK(log.text().find("backends[0]: \"state\" must be") != std::string::npos);
  }
  SECTION("not a file") {
    fs::create_directory(file);
    CHECK(StateDir(tmp.path.string()).load_admin(web_config()).entries().empty());
    CHECK(log.text().find("warning " + file.string() + ": ") != std::string::npos);
  }
  CHECK(log.text().find("starting with every backend enabled") != std::string::npos);
}

TEST_CASE("state dir: one that cannot be made or written is logged once", "[state_dir]") {
  TempDir tmp;
  write(tmp.path / "plain-file", "");
  LogCapture log;
  // A regular file where a parent directory should be: root or not, nothing can be made.
  StateDir dir((tmp.path / "plain-file" / "shoal").string());
  AdminStates a;
  a.set_state(TargetKey{"web", "rs1"}, AdminState::draining);
  CHECK_FALSE(dir.save_admin(a));
  a.set_state(TargetKey{"web", "rs2"}, AdminState::disabled);
  CHECK_FALSE(dir.save_admin(a));
  const std::string text = log.text();
  const std::string said = "error admin states not saved";
  const auto first = text.find(said);
  REQUIRE(first != std::string::npos);
  CHECK(text.find("cannot create the directory") != std::string::npos);
  CHECK(text.find(said, first + said.size()) == std::string::npos);

  SECTION("a directory that turns writable again is saved into, and said so") {
    StateDir later((tmp.path / "shoal").string());
    write(tmp.path / "shoal", "");  // a file where the directory should be
    CHECK_FALSE(later.save_admin(a));
    fs::remove(tmp.path / "shoal");
    CHECK(later.save_admin(a));
    CHECK(log.text().find("admin states saved in " +
                          (tmp.path / "shoal" / StateDir::kAdminStateFile).string() + " again") !=
          std::string::npos);
  }

  SECTION("after a failure, states equal to the last saved ones are written again") {
    // Saved, then the directory vanishes and a change fails; the operator puts the old state
    // back: the file must exist again, not be skipped as already holding it.
    StateDir later((tmp.path / "shoal").string());
    REQUIRE(later.save_admin(AdminStates{}));
    fs::remove_all(tmp.path / "shoal");
    write(tmp.path / "shoal", "");
    CHECK_FALSE(later.save_admin(a));
    fs::remove(tmp.path / "shoal");
    CHECK(later.save_admin(AdminStates{}));
    CHECK(fs::exists(tmp.path / "shoal" / StateDir::kAdminStateFile));
  }
}
