// The API's HTTP transport: libmicrohttpd serving a Unix socket or a TCP address, one request
// at a time on its own thread. The handler runs on that thread; the control API
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
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string text, std::string type = "application/json")
      : status(status_code), body(std::move(text)), content_type(std::move(type)) {}

  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;  // extra ones: Set-Cookie, Location
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Listens on the Unix socket `path`, mode 0600, creating its directory (0755) if missing.
  // A socket file left by a dead process is replaced; one a live server answers on is not.
  // Throws std::runtime_error with the reason if it cannot listen.
  HttpServer(const std::string& path, HttpHandler handler);
  // Listens on TCP `address` ("a.b.c.d:port" or "[v6]:port"). Throws std::runtime_error if
  // it cannot.
  static std::unique_ptr<HttpServer> tcp(const std::string& address, HttpHandler handler);
  ~HttpServer();  // stops serving and removes the socket file
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  static constexpr std::size_t kMaxBody = 1 << 20;  // a config file is far below

 private:
  struct Context;
  HttpServer(int listening_fd, std::string unlink_path, HttpHandler handler);
  std::string path_;  // the Unix socket removed at the end, if any
  std::unique_ptr<Context> context_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace shoal::cp
