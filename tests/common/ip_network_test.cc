#include "common/ip_network.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "gtest/gtest.h"

namespace sluice::common {
namespace {

sockaddr_storage V4(const char* text) {
  sockaddr_storage storage{};
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  in->sin_family = AF_INET;
  inet_pton(AF_INET, text, &in->sin_addr);
  return storage;
}

sockaddr_storage V6(const char* text) {
  sockaddr_storage storage{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  in6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &in6->sin6_addr);
  return storage;
}

bool Contains(const char* network, const sockaddr_storage& address) {
  return IpNetwork::Parse(network)->Contains(reinterpret_cast<const sockaddr*>(&address));
}

TEST(IpNetworkTest, Ipv4PrefixesMatchTheirAddressesOnly) {
  EXPECT_TRUE(Contains("127.0.0.0/8", V4("127.1.2.3")));
  EXPECT_FALSE(Contains("127.0.0.0/8", V4("128.0.0.1")));
  EXPECT_TRUE(Contains("127.0.0.1", V4("127.0.0.1")));
  EXPECT_FALSE(Contains("127.0.0.1", V4("127.0.0.2")));
  EXPECT_TRUE(Contains("10.0.0.0/9", V4("10.127.255.255")));
  EXPECT_FALSE(Contains("10.0.0.0/9", V4("10.128.0.0")));
  EXPECT_TRUE(Contains("0.0.0.0/0", V4("203.0.113.9")));
}

TEST(IpNetworkTest, Ipv4NetworkMatchesMappedIpv6Peers) {
  EXPECT_TRUE(Contains("127.0.0.0/8", V6("::ffff:127.0.0.5")));
  EXPECT_FALSE(Contains("127.0.0.0/8", V6("::1")));
}

TEST(IpNetworkTest, Ipv6Prefixes) {
  EXPECT_TRUE(Contains("::1", V6("::1")));
  EXPECT_TRUE(Contains("2001:db8::/32", V6("2001:db8:ffff::1")));
  EXPECT_FALSE(Contains("2001:db8::/32", V6("2001:db9::1")));
  EXPECT_FALSE(Contains("2001:db8::/32", V4("127.0.0.1")));
}

TEST(IpNetworkTest, MalformedNetworksAreRefusedWithTheirText) {
  for (const char* bad : {"", "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x", "10.1.0.0/8"}) {
    absl::StatusOr<IpNetwork> network = IpNetwork::Parse(bad);
    EXPECT_FALSE(network.ok()) << bad;
    if (!network.ok() && *bad != '\0') {
      EXPECT_NE(network.status().message().find(bad), std::string::npos) << network.status();
    }
  }
  EXPECT_EQ(IpNetwork::Parse("10.0.0.0/8")->ToString(), "10.0.0.0/8");
}

}  // namespace
}  // namespace sluice::common
