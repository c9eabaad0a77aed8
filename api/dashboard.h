// The dashboard: a page, a script and a style sheet (api/dashboard/),
// compiled into sluiced by api/dashboard/embed.sh, so that it needs no CDN,
// no network and no build step beyond Bazel's. The pages hold no data and
// need no key; the script asks the JSON API for everything, with the key
// the operator types in (read to view, admin to suspend and resume).
//
//   GET /                    index.html
//   GET /dashboard/app.js    the script
//   GET /dashboard/style.css
#pragma once

#include <span>
#include <string_view>

#include "api/http_response.h"

namespace sluice::api {

struct DashboardAsset {
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
};

// Every asset (defined in the generated dashboard_assets.cc).
std::span<const DashboardAsset> DashboardAssets();

// The asset at `path` with headers that keep it from being framed, sniffed
// or cached stale; 404 for any other path.
HttpResponse DashboardResponse(std::string_view path);

}  // namespace sluice::api
