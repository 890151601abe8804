// shoalctl list's names (cli/names.cc): every lookup under one deadline, numbers where no name
// came in time.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "cli/names.h"

using namespace std::chrono_literals;
using shoal::cli::reverse_lookup_all;

TEST_CASE("names: each address is looked up once, and only named ones are returned") {
  auto calls = std::make_shared<std::atomic<int>>(0);
  const auto names = reverse_lookup_all(
      {"10.0.0.11", "10.0.0.12", "10.0.0.11", "10.0.0.13"}, 2000ms,
      [calls](const std::string& a) -> std::optional<std::string> {
        ++*calls;
        if (a == "10.0.0.13") return std::nullopt;
        return "rs" + a.substr(a.size() - 1) + ".example";
      });
  CHECK(calls->load() == 3);
  CHECK(names.size() == 2);
  CHECK(names.at("10.0.0.11") == "rs1.example");
  CHECK(names.at("10.0.0.12") == "rs2.example");
  CHECK(names.count("10.0.0.13") == 0);
}

TEST_CASE("names: a lookup that hangs costs the budget, not its own time") {
  // One name server that never answers: that address stays a number, the others are named.
  const auto start = std::chrono::steady_clock::now();
  const auto names = reverse_lookup_all(
      {"10.0.0.11", "10.0.0.99", "10.0.0.12"}, 300ms,
      [](const std::string& a) -> std::optional<std::string> {
        if (a == "10.0.0.99") std::this_thread::sleep_for(3s);
        return "host-" + a;
      });
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 1500ms);
  CHECK(names.size() == 2);
  CHECK(names.count("10.0.0.99") == 0);
}

TEST_CASE("names: at most `parallel` lookups at once; the rest wait for a free thread") {
  auto running = std::make_shared<std::atomic<int>>(0);
  auto most = std::make_shared<std::atomic<int>>(0);
  std::vector<std::string> addresses;
  for (int i = 0; i < 40; ++i) addresses.push_back("10.0.1." + std::to_string(i));
  const auto names = reverse_lookup_all(
      addresses, 5000ms,
      [running, most](const std::string& a) -> std::optional<std::string> {
        const int now = ++*running;
        int seen = most->load();
        while (now > seen && !most->compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(5ms);
        --*running;
        return a + ".lab";
      },
      4);
  CHECK(names.size() == 40);
  CHECK(most->load() <= 4);
  CHECK(most->load() >= 2);
}

TEST_CASE("names: the system's resolver and /etc/services") {
  CHECK(shoal::cli::system_reverse_lookup("127.0.0.1") == std::optional<std::string>("localhost"));
  CHECK_FALSE(shoal::cli::system_reverse_lookup("not an address"));
  CHECK(shoal::cli::port_name(80, "tcp") == "http");
  CHECK(shoal::cli::port_name(53, "udp") == "domain");
  CHECK(shoal::cli::port_name(65000, "tcp") == "65000");
}
