// The API and the dashboard over TCP, where anyone who can connect may try: nothing is served
// without a session (from POST /v1/login with the token) or the token itself as a bearer,
// except the login page. Sessions are cookies (HttpOnly, SameSite=Strict) held in memory for
// kSessionLifetime. Runs on the TCP server's thread; the API behind it runs on the control loop.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "api/http_server.h"

namespace shoal::cp {

class WebAccess {
 public:
  static constexpr auto kSessionLifetime = std::chrono::hours(12);
  static constexpr std::size_t kMaxSessions = 1024;

  // `api`: the control API (the same one the Unix socket serves). `dashboard_dir`: the
  // dashboard's files; login.html in it is the one page served to strangers.
  WebAccess(std::string token, std::string dashboard_dir, HttpHandler api);

  HttpResponse handle(const HttpRequest& request);

  // The token in `path`, trimmed. Throws std::runtime_error if unreadable or empty.
  static std::string read_token(const std::string& path);

 private:
  bool authorised(const HttpRequest& request);
  HttpResponse login(const HttpRequest& request);
  HttpResponse logout(const HttpRequest& request);
  HttpResponse file(const std::string& url_path) const;
  std::string session_of(const HttpRequest& request) const;

  std::string token_;
  std::string dashboard_dir_;
  HttpHandler api_;
  std::mutex mutex_;  // guards sessions_
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;  // id → expiry
};

}  // namespace shoal::cp
