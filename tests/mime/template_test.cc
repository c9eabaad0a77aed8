#include "mime/template.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::mime {
namespace {

using Values = std::vector<std::optional<std::string_view>>;

TEST(TemplateTest, SubstitutesNamesWithOptionalSpaces) {
  TemplateSlots slots;
  auto t = Template::Compile("Hi {{first}} {{ last }}!", &slots);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(slots.names(), (std::vector<std::string>{"first", "last"}));
  EXPECT_TRUE(t->has_placeholders());
  EXPECT_EQ(t->Render(Values{"Ada", "Lovelace"}, TemplateEscape::kNone), "Hi Ada Lovelace!");
}

TEST(TemplateTest, SharesSlotsAcrossTemplates) {
  TemplateSlots slots;
  auto a = Template::Compile("{{x}}{{y}}", &slots);
  auto b = Template::Compile("{{y}}{{z}}{{x}}", &slots);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots.Find("z"), 2);
  EXPECT_EQ(slots.Find("nope"), -1);
  EXPECT_EQ(b->Render(Values{"1", "2", "3"}, TemplateEscape::kNone), "231");
}

TEST(TemplateTest, EscapesHtmlExceptTripleBraces) {
  TemplateSlots slots;
  auto t = Template::Compile("<p>{{v}}</p>{{{v}}}", &slots);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Values{"<a href=\"x\">Tom & Jerry's</a>"}, TemplateEscape::kHtml),
            "<p>&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;</p>"
            "<a href=\"x\">Tom & Jerry's</a>");
  EXPECT_EQ(t->Render(Values{"<b>"}, TemplateEscape::kNone), "<p><b></p><b>");
}

TEST(TemplateTest, MissingValueRendersEmpty) {
  TemplateSlots slots;
  auto t = Template::Compile("[{{gone}}]", &slots);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Values{std::nullopt}, TemplateEscape::kHtml), "[]");
}

TEST(TemplateTest, TextWithoutPlaceholders) {
  TemplateSlots slots;
  auto t = Template::Compile("plain { text } with } braces", &slots);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_placeholders());
  EXPECT_EQ(t->Render(Values{}, TemplateEscape::kHtml), "plain { text } with } braces");
  EXPECT_EQ(t->source(), "plain { text } with } braces");
}

TEST(TemplateTest, RefusesMalformedPlaceholders) {
  TemplateSlots slots;
  auto unterminated = Template::Compile("ok {{name", &slots);
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.status().message(), "unterminated placeholder at offset 3");
  auto empty = Template::Compile("{{}}", &slots);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "invalid placeholder name at offset 0");
  EXPECT_FALSE(Template::Compile("{{a b}}", &slots).ok());
  EXPECT_FALSE(Template::Compile("{{a<b}}", &slots).ok());
  EXPECT_FALSE(Template::Compile("{{" + std::string(65, 'n') + "}}", &slots).ok());
  EXPECT_TRUE(Template::Compile("{{" + std::string(64, 'n') + "}}", &slots).ok());
  EXPECT_TRUE(Template::Compile("{{user.first_name-2}}", &slots).ok());
}

TEST(TemplateTest, AdjacentPlaceholdersAndEdges) {
  TemplateSlots slots;
  auto t = Template::Compile("{{a}}{{a}}x{{b}}", &slots);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Values{"1", "2"}, TemplateEscape::kNone), "11x2");
}

}  // namespace
}  // namespace sluice::mime
