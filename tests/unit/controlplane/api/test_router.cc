#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "api/router.h"

using namespace shoal::cp;

namespace {

HttpRequest request(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

std::string error_of(const HttpResponse& r) { return nlohmann::json::parse(r.body).at("error"); }

}  // namespace

TEST_CASE("router: a pattern's braces capture one segment each", "[api]") {
  Router router;
  PathParams seen;
  router.add("POST", "/v1/services/{service}/backends/{backend}/{op}",
             [&](const HttpRequest&, const PathParams& p) {
               seen = p;
               return json_response(200, "{}");
             });
  const HttpResponse r = router.handle(request("POST", "/v1/services/web/backends/rs1/drain"));
  CHECK(r.status == 200);
  CHECK(seen == PathParams{{"service", "web"}, {"backend", "rs1"}, {"op", "drain"}});
  // One segment each: a longer or shorter path is another resource.
  CHECK(router.handle(request("POST", "/v1/services/web/backends/rs1")).status == 404);
  CHECK(router.handle(request("POST", "/v1/services/web/backends/rs1/drain/now")).status == 404);
}

TEST_CASE("router: literal segments win only when they match, in registration order", "[api]") {
  Router router;
  std::string which;
  router.add("GET", "/v1/config", [&](const HttpRequest&, const PathParams&) {
    which = "config";
    return json_response(200, "{}");
  });
  router.add("POST", "/v1/config/validate", [&](const HttpRequest&, const PathParams&) {
    which = "validate";
    return json_response(200, "{}");
  });
  CHECK(router.handle(request("GET", "/v1/config/")).status == 200);  // a trailing slash is the same
  CHECK(which == "config");
  CHECK(router.handle(request("POST", "/v1/config/validate")).status == 200);
  CHECK(which == "validate");
}

TEST_CASE("router: a path with other methods is a 405 naming them; an unknown one a 404", "[api]") {
  Router router;
  auto ok = [](const HttpRequest&, const PathParams&) { return json_response(200, "{}"); };
  router.add("GET", "/v1/services/{service}", ok);
  router.add("POST", "/v1/reload", ok);
  HttpResponse r = router.handle(request("DELETE", "/v1/services/web"));
  CHECK(r.status == 405);
  CHECK(error_of(r) == "use GET");
  r = router.handle(request("GET", "/v1/reload"));
  CHECK(r.status == 405);
  CHECK(error_of(r) == "use POST");
  r = router.handle(request("GET", "/v1/nothing"));
  CHECK(r.status == 404);
  CHECK(error_of(r) == "no such resource: /v1/nothing");
  r = router.handle(request("GET", "/v2/nothing"));
  CHECK(r.status == 404);
  CHECK(error_of(r) == "no such resource: /v2/nothing (the API is under /v1/)");
}

TEST_CASE("router: a route registered twice is a programming error", "[api]") {
  Router router;
  auto ok = [](const HttpRequest&, const PathParams&) { return json_response(200, "{}"); };
  router.add("GET", "/v1/services/{service}", ok);
  CHECK_THROWS_AS(router.add("GET", "/v1/services/{name}", ok), std::logic_error);
  CHECK_NOTHROW(router.add("POST", "/v1/services/{service}", ok));
}

TEST_CASE("registry: each feature's status section and metric families join the whole", "[api]") {
  ApiRegistry registry;
  int asked = 0;
  registry.status_section("vrrp", [&] {
    ++asked;
    return nlohmann::json::array({"vi_1"});
  });
  registry.status_section("connection_sync", [] { return nlohmann::json{{"peers", 2}}; });
  registry.metric_families([](MetricFamilies& f) { f.gauge("shoal_a", "A", {{"x", "1"}}, 1); });
  registry.metric_families([](MetricFamilies& f) {
    f.gauge("shoal_a", "A", {{"x", "2"}}, 2);
    f.counter("shoal_b_total", "B", {}, 3);
  });
  const nlohmann::json status = registry.status();
  CHECK(status.at("vrrp") == nlohmann::json::array({"vi_1"}));
  CHECK(status.at("connection_sync").at("peers") == 2);
  CHECK(asked == 1);
  CHECK(registry.status() == status);  // computed afresh on every request
  CHECK(asked == 2);

  MetricFamilies families;
  registry.collect(families);
  const auto all = families.take();
  REQUIRE(all.size() == 2);  // samples of one name share a family
  CHECK(all[0].name == "shoal_a");
  CHECK(all[0].metric.size() == 2);
  CHECK(all[1].name == "shoal_b_total");
  CHECK(all[1].type == prometheus::MetricType::Counter);
  CHECK(all[1].metric.at(0).counter.value == 3);
}
