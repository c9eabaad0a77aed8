#include "api/http_routes.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::api {

void HttpRoutes::Add(std::string method, std::string path, uint32_t scopes, Handler handler) {
  const bool prefix = path.size() > 1 && path.back() == '/';
  routes_.push_back({.method = std::move(method),
                     .path = std::move(path),
                     .prefix = prefix,
                     .scopes = scopes,
                     .handler = std::move(handler)});
}

HttpRoutes::Match HttpRoutes::Find(std::string_view method, std::string_view path) const {
  Match match;
  match.status = 404;
  for (const Route& route : routes_) {
    const bool here = route.prefix ? path.size() > route.path.size() && path.starts_with(route.path)
                                   : path == route.path;
    if (!here) continue;
    if (route.method == method) {
      match.route = &route;
      match.status = 0;
      match.allow.clear();
      if (route.prefix) match.rest = path.substr(route.path.size());
      return match;
    }
    match.status = 405;
    absl::StrAppend(&match.allow, match.allow.empty() ? "" : ", ", route.method);
  }
  return match;
}

}  // namespace sluice::api
