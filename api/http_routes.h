// HttpRoutes: the route table of the HTTP API. Each route is a method and a
// path (exact, or a prefix ending in '/' that matches every path below it),
// the scopes a caller needs (0: no authentication), and its handler. Find()
// answers which route serves a request, or why none does: 404 for an
// unknown path, 405 with the methods the path allows.
//
//   HttpRoutes routes;
//   routes.Add("GET", "/api/v1/sites", kScopeRead | kScopeAdmin,
//              [this](HttpCall& call) { admin_.Sites(std::move(call.reply)); });
//   HttpRoutes::Match match = routes.Find(request.method, target.path);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http1_session.h"
#include "api/http_response.h"
#include "api/http_target.h"

namespace sluice::api {

// One request being served.
struct HttpCall {
  HttpRequest& request;
  const HttpTarget& target;
  std::string_view rest;  // the path below a prefix route ("" for exact ones)
  HttpReply reply;
};

class HttpRoutes {
 public:
  using Handler = std::function<void(HttpCall& call)>;

  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    uint32_t scopes = 0;
    Handler handler;
  };

  struct Match {
    const Route* route = nullptr;  // null: answer `status`
    int status = 0;                // 404 or 405
    std::string allow;             // for a 405: "GET, HEAD"
    std::string_view rest;         // for a prefix route
  };

  // `path` ending in '/' is a prefix route, except "/" itself.
  void Add(std::string method, std::string path, uint32_t scopes, Handler handler);
  Match Find(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;  // in the order added
};

}  // namespace sluice::api
