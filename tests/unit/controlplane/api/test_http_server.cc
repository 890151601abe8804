// The API's TCP transport (controlplane/api/http_server.cc): a real listening socket, IPv6 as
// well as IPv4, answering a real HTTP client (libcurl) on the loopback.
#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "api/http_server.h"

using shoal::cp::HttpRequest;
using shoal::cp::HttpResponse;
using shoal::cp::HttpServer;

namespace {

// A TCP port free on the loopback of `family` a moment ago (the kernel's pick for port 0).
uint16_t free_port(int family) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  }
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  const uint16_t port = family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port;
  return ntohs(port);
}

struct Fetched {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string peer;  // the address libcurl connected to
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Fetched fetch(const std::string& url) {
  Fetched f;
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  f.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f.status);
  char* peer = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &peer) == CURLE_OK && peer != nullptr)
    f.peer = peer;
  curl_easy_cleanup(curl);
  return f;
}

// Answers every request with its own path, and remembers the last one.
class Echo {
 public:
  HttpResponse operator()(const HttpRequest& r) {
    std::lock_guard lock(mutex_);
    last_ = r.method + " " + r.path;
    return HttpResponse{200, fmt::format(R"({{"path":"{}"}})", r.path)};
  }
  std::string last() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  std::mutex mutex_;
  std::string last_;
};

// Serves `echo` on `address`.
std::unique_ptr<HttpServer> serve(const std::string& address, Echo& echo) {
  return HttpServer::tcp(address, [&echo](const HttpRequest& r) { return echo(r); });
}

}  // namespace

TEST_CASE("http server: listens on [::1]:port and answers HTTP over IPv6, as over IPv4",
          "[api][ipv6][http]") {
  const auto [family, host] =
      GENERATE(table<int, std::string>({{AF_INET6, "::1"}, {AF_INET, "127.0.0.1"}}));
  const uint16_t port = free_port(family);
  const std::string address =
      family == AF_INET6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  Echo echo;
  const auto server = serve(address, echo);

  const Fetched f = fetch(fmt::format("http://{}/v1/status", address));
  INFO(address << ": " << curl_easy_strerror(f.code));
  REQUIRE(f.code == CURLE_OK);
  CHECK(f.peer == host);
  CHECK(f.status == 200);
  CHECK(f.body == R"({"path":"/v1/status"})");
  CHECK(echo.last() == "GET /v1/status");

  // A second server on the same endpoint is refused, naming it.
  try {
    (void)serve(address, echo);
    FAIL("the second server listened on " << address);
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(address) != std::string::npos);
  }
}

TEST_CASE("http server: text that is no endpoint is refused", "[api][http]") {
  Echo echo;
  for (const char* bad : {"::1:8080", "[::1]", "[127.0.0.1]:80", "[::1]:0", "[::1:80"})
    CHECK_THROWS_WITH(serve(bad, echo), Catch::Contains("expected address:port"));
}
