#include "api/web_access.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace shoal::cp {
namespace {

using nlohmann::json;

HttpResponse json_error(int status, const std::string& message) {
  return {status, json{{"error", message}}.dump() + "\n"};
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string content_type(const std::string& path) {
  const auto ends = [&](const char* ext) {
    const std::string e(ext);
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

}  // namespace

WebAccess::WebAccess(std::string token, std::string dashboard_dir, HttpHandler api)
    : token_(std::move(token)), dashboard_dir_(std::move(dashboard_dir)), api_(std::move(api)) {}

std::string WebAccess::read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("API token file " + path + ": cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) throw std::runtime_error("API token file " + path + ": empty");
  return token.substr(first, last - first + 1);
}

std::string WebAccess::session_of(const HttpRequest& request) const {
  auto it = request.headers.find("cookie");
  if (it == request.headers.end()) return {};
  const std::string& cookies = it->second;
  const std::string name = "shoal_session=";
  for (size_t pos = 0; pos < cookies.size();) {
    while (pos < cookies.size() && (cookies[pos] == ' ' || cookies[pos] == ';')) ++pos;
    const size_t end = std::min(cookies.find(';', pos), cookies.size());
    if (cookies.compare(pos, name.size(), name) == 0)
      return cookies.substr(pos + name.size(), end - pos - name.size());
    pos = end;
  }
  return {};
}

bool WebAccess::authorised(const HttpRequest& request) {
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string prefix = "Bearer ";
    if (it->second.rfind(prefix, 0) == 0 && same_secret(it->second.substr(prefix.size()), token_))
      return true;
  }
  const std::string id = session_of(request);
  if (id.empty()) return false;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  if (std::chrono::steady_clock::now() > it->second) {
    sessions_.erase(it);
    return false;
  }
  return true;
}

HttpResponse WebAccess::login(const HttpRequest& request) {
  const json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") || !body["token"].is_string())
    return json_error(400, R"(the body must be {"token": "..."})");
  if (!same_secret(body["token"].get<std::string>(), token_)) return json_error(401, "wrong token");
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return json_error(500, "no randomness for a session");
  std::string id;
  for (unsigned char c : raw) id += fmt::format("{:02x}", c);
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(sessions_, [&](const auto& s) { return now > s.second; });
    if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
    sessions_[id] = now + kSessionLifetime;
  }
  HttpResponse r{200, json{{"ok", true}}.dump() + "\n"};
  r.headers["Set-Cookie"] = fmt::format("shoal_session={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                                        id, std::chrono::seconds(kSessionLifetime).count());
  return r;
}

HttpResponse WebAccess::logout(const HttpRequest& request) {
  const std::string id = session_of(request);
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
  }
  HttpResponse r{200, json{{"ok", true}}.dump() + "\n"};
  r.headers["Set-Cookie"] = "shoal_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";
  return r;
}

HttpResponse WebAccess::file(const std::string& url_path) const {
  std::string rel = url_path == "/" ? "/index.html" : url_path;
  // Only plain names below the directory: no "..", no hidden files.
  if (rel.find("/.") != std::string::npos || rel.find('\\') != std::string::npos)
    return {404, "not found\n", "text/plain"};
  std::ifstream in(dashboard_dir_ + rel, std::ios::binary);
  if (!in) return {404, "not found\n", "text/plain"};
  std::ostringstream data;
  data << in.rdbuf();
  return {200, data.str(), content_type(rel)};
}

HttpResponse WebAccess::handle(const HttpRequest& request) {
  const bool api = request.path.rfind("/v1/", 0) == 0 || request.path == "/metrics";
  if (request.path == "/v1/login")
    return request.method == "POST" ? login(request) : json_error(405, "use POST");
  if (!authorised(request)) {
    if (api) return json_error(401, "log in first (POST /v1/login) or send the token as a bearer");
    HttpResponse page = file("/login.html");
    if (page.status == 200 && request.path != "/login.html") page.status = 401;
    return page;
  }
  if (request.path == "/v1/logout")
    return request.method == "POST" ? logout(request) : json_error(405, "use POST");
  if (api) return api_(request);
  if (request.method != "GET") return json_error(405, "use GET");
  return file(request.path);
}

}  // namespace shoal::cp
