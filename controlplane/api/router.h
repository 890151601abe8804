// The API's routes, as the features register them at start-up (see registry.h): a method and
// a path pattern whose `{name}` segments capture, and the handler that answers. Dispatch runs
// on the control loop, like every handler.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"

namespace shoal::cp {

// The values of a pattern's `{name}` segments, by name.
using PathParams = std::map<std::string, std::string, std::less<>>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

class Router {
 public:
  // `pattern`: "/v1/services/{service}"; a segment in braces matches any one segment.
  // Registering the same method and pattern twice is a programming error (throws).
  void add(std::string method, std::string_view pattern, RouteHandler handler);

  // 404 for a path no route has, 405 naming the methods for one that has others.
  HttpResponse handle(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" captures
    RouteHandler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path,
                    PathParams* params);

  std::vector<Route> routes_;
};

// Answers in the API's shape: a JSON body, or {"error": message} with a 4xx/5xx status.
HttpResponse json_response(int status, std::string body);
HttpResponse error_response(int status, const std::string& message);

std::vector<std::string_view> split_path(std::string_view path);

}  // namespace shoal::cp
