#include "api/dashboard.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace sluice::api {

HttpResponse DashboardResponse(std::string_view path) {
  for (const DashboardAsset& asset : DashboardAssets()) {
    if (asset.path != path) continue;
    HttpResponse response;
    response.body = std::string(asset.body);
    response.content_type = std::string(asset.content_type);
    response.headers = {
        {"Cache-Control", "no-cache"},
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
         "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
    };
    return response;
  }
  return HttpResponse::Error(
      404, absl::StrCat("no such resource: ", absl::string_view(path.data(), path.size())));
}

}  // namespace sluice::api
