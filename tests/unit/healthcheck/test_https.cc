// HTTPS checks against a TLS server on the loopback (127.0.0.1, then ::1) started by the
// test, with a self-signed certificate made on the spot: the check passes when certificate
// checking is off (and sends the configured host name as SNI and Host), and fails on the
// certificate when it is on.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "healthcheck/checker.h"
#include "healthcheck/loopback.h"

using shoal::hc::CheckType;
using shoal::hc::HealthChecker;
using shoal::hc::Millis;
using shoal::hc::Target;
using shoal::hc::TargetKey;
using shoal::hc::TargetStatus;
using shoal::test::Family;

namespace {

// A TLS server answering every request with 200 and "sni=<server name> host=<Host>", one
// blocking thread per connection (socket timeouts bound every call).
class TlsServer {
 public:
  explicit TlsServer(Family family) {
    key_ = EVP_EC_gen("P-256");
    REQUIRE(key_);
    cert_ = X509_new();
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 3600);
    X509_set_pubkey(cert_, key_);
    X509_NAME* name = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("example.test"), -1, -1, 0);
    X509_set_issuer_name(cert_, name);
    REQUIRE(X509_sign(cert_, key_, EVP_sha256()) > 0);
    ctx_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(ctx_);
    REQUIRE(SSL_CTX_use_certificate(ctx_, cert_) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx_, key_) == 1);

    fd_ = shoal::test::bound_socket(family, SOCK_STREAM);
    REQUIRE(::listen(fd_, 64) == 0);
    port_ = shoal::test::bound_port(fd_);
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TlsServer() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_, &one, sizeof one);
    acceptor_.join();
    for (std::thread& t : handlers_) t.join();
    ::close(fd_);
    ::close(stop_);
    SSL_CTX_free(ctx_);
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }

  uint16_t port() const { return port_; }
  std::atomic<int> handshakes{0};

 private:
  void accept_loop() {
    for (;;) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {stop_, POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN)) return;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handlers_.emplace_back([this, c] {
        serve(c);
        ::close(c);
      });
    }
  }

  void serve(int c) {
    // OpenSSL writes with write(): a client that hung up must not kill the test with SIGPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    const timeval two_seconds{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &two_seconds, sizeof two_seconds);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      ++handshakes;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const int n = SSL_read(ssl, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      std::string host;
      if (size_t h = request.find("\r\nHost: "); h != std::string::npos)
        host = request.substr(h + 8, request.find("\r\n", h + 8) - h - 8);
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      const std::string body = std::string("sni=") + (sni ? sni : "") + " host=" + host;
      const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " +
                                   std::to_string(body.size()) +
                                   "\r\nConnection: close\r\n\r\n" + body;
      SSL_write(ssl, response.data(), static_cast<int>(response.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
  }

  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int stop_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> handlers_;  // only the acceptor touches it until the destructor
};

Target https(Family family, const std::string& name, uint16_t port) {
  Target t;
  t.key = TargetKey{"t", name};
  t.address = shoal::test::loopback(family);
  t.port = port;
  t.spec.type = CheckType::https;
  // A TLS handshake is the costliest probe: generous, for a loaded machine and sanitizers.
  t.spec.interval_ms = 5000;
  t.spec.timeout_ms = 3000;
  t.spec.spread = 0;
  t.spec.rise = 1;
  t.spec.fall = 1;
  return t;
}

TargetStatus first_verdict(const HealthChecker& c, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + Millis(5000);
  for (;;) {
    const auto s = c.last_result(TargetKey{"t", name});
    REQUIRE(s);
    if (s->checks > 0 || std::chrono::steady_clock::now() > deadline) {
      REQUIRE(s->last);
      return *s;
    }
    std::this_thread::sleep_for(Millis(2));
  }
}

}  // namespace

TEST_CASE("health checker: https with and without certificate checks", "[health]") {
  const Family family = GENERATE(Family::v4, Family::v6);
  INFO(to_string(family));
  TlsServer server(family);
  Target plain = https(family, "unverified", server.port());
  Target named = https(family, "named", server.port());
  named.spec.host = "example.test";
  named.spec.body = "sni=example.test host=example.test:" + std::to_string(server.port());
  Target verified = https(family, "verified", server.port());
  verified.spec.host = "example.test";
  verified.spec.verify_tls = true;

  HealthChecker checker;
  checker.set_targets({plain, named, verified});
  TargetStatus s = first_verdict(checker, "unverified");
  CHECK(s.last->pass);
  CHECK(s.last->detail == "https status 200");
  s = first_verdict(checker, "named");
  CHECK(s.last->pass);
  CHECK(s.last->detail == "https status 200");
  s = first_verdict(checker, "verified");
  CHECK_FALSE(s.last->pass);
  INFO(s.last->detail);
  CHECK(s.last->detail.rfind("https error: SSL certificate problem", 0) == 0);
  CHECK(server.handshakes.load() >= 2);
}
