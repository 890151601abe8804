#include "api/router.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace shoal::cp {
namespace {

bool is_capture(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t start = path.find_first_not_of('/');
    if (start == std::string_view::npos) break;
    path.remove_prefix(start);
    const size_t end = path.find('/');
    parts.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return parts;
}

HttpResponse json_response(int status, std::string body) { return {status, std::move(body) + "\n"}; }

HttpResponse error_response(int status, const std::string& message) {
  return json_response(status, nlohmann::json{{"error", message}}.dump());
}

void Router::add(std::string method, std::string_view pattern, RouteHandler handler) {
  Route route{std::move(method), std::string(pattern), {}, std::move(handler)};
  for (std::string_view s : split_path(pattern)) route.segments.emplace_back(s);
  // The same shape under other capture names would never be reached either.
  auto shape = [](const Route& r) {
    std::vector<std::string> out;
    for (const std::string& s : r.segments) out.push_back(is_capture(s) ? "{}" : s);
    return out;
  };
  for (const Route& r : routes_)
    if (r.method == route.method && shape(r) == shape(route))
      throw std::logic_error("route registered twice: " + route.method + " " + route.pattern);
  routes_.push_back(std::move(route));
}

bool Router::match(const Route& route, const std::vector<std::string_view>& path,
                   PathParams* params) {
  if (route.segments.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& s = route.segments[i];
    if (is_capture(s)) {
      if (params) (*params)[s.substr(1, s.size() - 2)] = std::string(path[i]);
    } else if (s != path[i]) {
      return false;
    }
  }
  return true;
}

HttpResponse Router::handle(const HttpRequest& request) const {
  const std::vector<std::string_view> path = split_path(request.path);
  std::string allowed;
  for (const Route& route : routes_) {
    if (!match(route, path, nullptr)) continue;
    if (route.method != request.method) {
      if (allowed.find(route.method) == std::string::npos)
        allowed += (allowed.empty() ? "" : " or ") + route.method;
      continue;
    }
    PathParams params;
    match(route, path, &params);
    return route.handler(request, params);
  }
  if (!allowed.empty()) return error_response(405, "use " + allowed);
  if (path.empty() || path[0] != "v1")
    return error_response(404, "no such resource: " + request.path + " (the API is under /v1/)");
  return error_response(404, "no such resource: " + request.path);
}

}  // namespace shoal::cp
