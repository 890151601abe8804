#include <nlohmann/json.hpp>
#include <regex>

#include "api/control_api.h"
#include "config/diff.h"

namespace shoal::cp {
namespace {

using nlohmann::json;

// "FILE:LINE: message" → {"line": LINE, "message": message}; other messages keep line null.
json located(const std::vector<std::string>& messages) {
  static const std::regex kLocated(R"(^.*?:(\d+): (.*)$)");
  json out = json::array();
  for (const std::string& m : messages) {
    std::smatch match;
    if (std::regex_match(m, match, kLocated))
      out.push_back({{"line", std::stoi(match[1])}, {"message", match[2].str()}, {"text", m}});
    else
      out.push_back({{"line", nullptr}, {"message", m}, {"text", m}});
  }
  return out;
}

HttpResponse reload_response(const ReloadResult& r, json body) {
  if (!r.applied) body["error"] = r.errors.empty() ? "refused" : r.errors.front();
  return json_response(r.applied ? 200 : 422, body.dump());
}

}  // namespace

void register_config_api(ApiRegistry& registry, const DirectorView& view,
                         DirectorCommands& commands) {
  Router& r = registry.routes();
  r.add("GET", "/v1/config", [&view](const HttpRequest&, const PathParams&) {
    return json_response(200, json{{"path", view.config_path()}, {"text", view.config_text()}}.dump());
  });
  r.add("POST", "/v1/config/validate", [&view](const HttpRequest& request, const PathParams&) {
    const LoadResult candidate = load_config_string(request.body, "candidate");
    json diff = candidate.config ? json(diff_configs(view.config(), *candidate.config)) : json::array();
    return json_response(200, json{{"valid", candidate.config.has_value()},
                                   {"errors", located(candidate.errors)},
                                   {"warnings", located(candidate.warnings)},
                                   {"diff", std::move(diff)}}.dump());
  });
  r.add("POST", "/v1/config/apply", [&view, &commands](const HttpRequest& request, const PathParams&) {
    const LoadResult candidate = load_config_string(request.body, "candidate");
    // The diff against the config that was running before the apply.
    json diff = candidate.config ? json(diff_configs(view.config(), *candidate.config)) : json::array();
    const ReloadResult result = commands.apply(request.body);
    return reload_response(result, {{"applied", result.applied},
                                    {"errors", located(result.errors)},
                                    {"warnings", located(result.warnings)},
                                    {"diff", result.applied ? diff : json::array()}});
  });
  r.add("POST", "/v1/reload", [&commands](const HttpRequest&, const PathParams&) {
    const ReloadResult result = commands.reload();
    return reload_response(result, {{"applied", result.applied},
                                    {"errors", result.errors},
                                    {"warnings", result.warnings}});
  });
}

}  // namespace shoal::cp
