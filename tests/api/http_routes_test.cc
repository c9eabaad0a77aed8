#include "api/http_routes.h"

#include <string>

#include "gtest/gtest.h"

namespace sluice::api {
namespace {

class HttpRoutesTest : public ::testing::Test {
 protected:
  HttpRoutesTest() {
    routes_.Add("GET", "/healthz", 0, Named("health-get"));
    routes_.Add("HEAD", "/healthz", 0, Named("health-head"));
    routes_.Add("POST", "/api/v1/messages", 4, Named("inject"));
    routes_.Add("DELETE", "/api/v1/messages", 2, Named("purge"));
    routes_.Add("GET", "/api/v1/messages/", 1, Named("read"));
    routes_.Add("GET", "/", 0, Named("dashboard"));
  }

  HttpRoutes::Handler Named(std::string name) {
    return [this, name](HttpCall&) { called_ = name; };
  }

  std::string Run(const HttpRoutes::Match& match) {
    HttpRequest request;
    HttpTarget target;
    HttpCall call{.request = request, .target = target, .rest = match.rest, .reply = nullptr};
    match.route->handler(call);
    return called_;
  }

  HttpRoutes routes_;
  std::string called_;
};

TEST_F(HttpRoutesTest, ExactPathAndMethodFindTheirHandlerAndScopes) {
  const HttpRoutes::Match match = routes_.Find("DELETE", "/api/v1/messages");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.status, 0);
  EXPECT_EQ(match.route->scopes, 2u);
  EXPECT_EQ(Run(match), "purge");
  EXPECT_EQ(Run(routes_.Find("HEAD", "/healthz")), "health-head");
}

TEST_F(HttpRoutesTest, PrefixRouteHandsOverTheRestOfThePath) {
  const HttpRoutes::Match match = routes_.Find("GET", "/api/v1/messages/0123abc");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.rest, "0123abc");
  EXPECT_EQ(Run(match), "read");
}

TEST_F(HttpRoutesTest, UnknownPathIs404) {
  const HttpRoutes::Match match = routes_.Find("GET", "/api/v1/nothing");
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.status, 404);
  // The bare prefix is not a message id.
  EXPECT_EQ(routes_.Find("GET", "/api/v1/messages/").status, 404);
  // A prefix route does not match a longer name that merely starts alike.
  EXPECT_EQ(routes_.Find("GET", "/healthzz").status, 404);
}

TEST_F(HttpRoutesTest, TheRootIsAnExactRouteNotAPrefixOfEveryPath) {
  EXPECT_EQ(Run(routes_.Find("GET", "/")), "dashboard");
  EXPECT_EQ(routes_.Find("GET", "/anything").status, 404);
  EXPECT_EQ(routes_.Find("POST", "/anything").status, 404);
}

TEST_F(HttpRoutesTest, KnownPathWithAnotherMethodIs405ListingTheAllowedOnes) {
  HttpRoutes::Match match = routes_.Find("PUT", "/api/v1/messages");
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.status, 405);
  EXPECT_EQ(match.allow, "POST, DELETE");
  match = routes_.Find("POST", "/healthz");
  EXPECT_EQ(match.allow, "GET, HEAD");
}

}  // namespace
}  // namespace sluice::api
