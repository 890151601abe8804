// The API's HTTP transport: libmicrohttpd serving a Unix socket (and, later, a TCP address),
// one request at a time on its own thread. The handler runs on that thread; the control API
// hands each request over to the control loop (see ControlQueue) and waits for the answer.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

struct MHD_Daemon;

namespace shoal::cp {

struct HttpRequest {
  std::string method;  // GET, POST, ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Listens on the Unix socket `path`, mode 0600, creating its directory (0755) if missing.
  // A socket file left by a dead process is replaced; one a live server answers on is not.
  // Throws std::runtime_error with the reason if it cannot listen.
  HttpServer(const std::string& path, HttpHandler handler);
  ~HttpServer();  // stops serving and removes the socket file
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  static constexpr std::size_t kMaxBody = 1 << 20;  // a config file is far below

 private:
  struct Context;
  std::string path_;
  std::unique_ptr<Context> context_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace shoal::cp
