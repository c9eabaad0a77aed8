#include "dns/single_flight.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::dns {
namespace {

TEST(SingleFlightTest, FirstJoinStartsTheWorkOthersWait) {
  SingleFlight<int> flights;
  std::vector<std::string> answered;
  EXPECT_TRUE(
      flights.Join("a", [&](const int& v) { answered.push_back("a1=" + std::to_string(v)); }));
  EXPECT_FALSE(
      flights.Join("a", [&](const int& v) { answered.push_back("a2=" + std::to_string(v)); }));
  EXPECT_TRUE(
      flights.Join("b", [&](const int& v) { answered.push_back("b1=" + std::to_string(v)); }));
  EXPECT_FALSE(
      flights.Join("a", [&](const int& v) { answered.push_back("a3=" + std::to_string(v)); }));
  EXPECT_EQ(flights.flights(), 2u);
  EXPECT_EQ(flights.coalesced(), 2u);
  EXPECT_TRUE(answered.empty());

  EXPECT_EQ(flights.Complete("a", 7), 3u);
  EXPECT_EQ(answered, (std::vector<std::string>{"a1=7", "a2=7", "a3=7"}));
  EXPECT_FALSE(flights.InFlight("a"));
  EXPECT_TRUE(flights.InFlight("b"));
  EXPECT_EQ(flights.Complete("b", 9), 1u);
  EXPECT_EQ(answered.back(), "b1=9");
  EXPECT_EQ(flights.Complete("b", 9), 0u);  // no flight: nothing to answer
}

TEST(SingleFlightTest, WaiterThatRejoinsStartsANewFlight) {
  SingleFlight<int> flights;
  bool restarted = false;
  int second_value = 0;
  flights.Join("k", [&](const int&) {
    restarted = flights.Join("k", [&](const int& v) { second_value = v; });
  });
  flights.Complete("k", 1);
  EXPECT_TRUE(restarted);
  EXPECT_TRUE(flights.InFlight("k"));
  flights.Complete("k", 2);
  EXPECT_EQ(second_value, 2);
}

}  // namespace
}  // namespace sluice::dns
