using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Providers.Tests.Network.SecurityGroups;

public sealed class NetworkSecurityGroupHandlerTests
{
    private static readonly ResourceId GroupId =
        ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg1");

    private readonly IResourceTypeHandler _handler = NetworkProvider.Create().ResourceTypes.Single(t => t.Type == "networkSecurityGroups").Handler;

    [Fact]
    public void A_valid_rule_is_normalised_and_Azures_six_default_rules_are_added()
    {
        var context = Validate(Rules(Rule("ssh", priority: 300, protocol: "tcp", access: "allow", direction: "inbound")));

        Assert.Empty(context.Errors);
        var rule = context.Properties["securityRules"]![0]!;
        Assert.Equal(GroupId + "/securityRules/ssh", rule["id"]!.GetValue<string>());
        Assert.Equal(("Tcp", "Allow", "Inbound"), (S(rule, "protocol"), S(rule, "access"), S(rule, "direction")));
        var defaults = context.Properties["defaultSecurityRules"]!.AsArray().Select(r => (r!["name"]!.GetValue<string>(), r["properties"]!["priority"]!.GetValue<int>())).ToList();
        Assert.Equal(
            [("AllowVnetInBound", 65000), ("AllowAzureLoadBalancerInBound", 65001), ("DenyAllInBound", 65500), ("AllowVnetOutBound", 65000), ("AllowInternetOutBound", 65001), ("DenyAllOutBound", 65500)],
            defaults);
        Assert.True(Guid.TryParse(context.Properties["resourceGuid"]!.GetValue<string>(), out _));
    }

    [Fact]
    public void No_rules_is_an_empty_list()
    {
        var context = Validate("{}");

        Assert.Empty(context.Errors);
        Assert.Empty(context.Properties["securityRules"]!.AsArray());
    }

    [Theory]
    [InlineData(99, "SecurityRuleInvalidPriority")]
    [InlineData(4097, "SecurityRuleInvalidPriority")]
    public void Priority_outside_100_to_4096_is_refused(int priority, string code)
    {
        var error = Assert.Single(Validate(Rules(Rule("r", priority))).Errors);
        Assert.Equal(code, error.Code);
    }

    [Fact]
    public void Two_rules_with_one_priority_conflict_only_in_the_same_direction()
    {
        Assert.Empty(Validate(Rules(Rule("a", 200, direction: "Inbound"), Rule("b", 200, direction: "Outbound"))).Errors);

        var error = Assert.Single(Validate(Rules(Rule("a", 200), Rule("b", 200))).Errors);
        Assert.Equal("SecurityRuleConflict", error.Code);
        Assert.Contains("'a'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("destinationPortRange", "\"70000\"", "SecurityRuleInvalidPortRange")]
    [InlineData("destinationPortRange", "\"90-80\"", "SecurityRuleInvalidPortRange")]
    [InlineData("destinationPortRange", "\"http\"", "SecurityRuleInvalidPortRange")]
    [InlineData("sourceAddressPrefix", "\"10.0.0\"", "SecurityRuleInvalidAddressPrefix")]
    [InlineData("sourceAddressPrefix", "\"Intranet\"", "SecurityRuleInvalidAddressPrefix")]
    public void Bad_ranges_and_prefixes_are_refused(string property, string value, string code)
    {
        var rule = JsonNode.Parse(Rule("r", 300))!;
        rule["properties"]![property] = JsonNode.Parse(value);

        var error = Assert.Single(Validate(Rules(rule.ToJsonString())).Errors);
        Assert.Equal(code, error.Code);
        Assert.Contains($"Value provided: {JsonNode.Parse(value)!.GetValue<string>()}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Singular_and_plural_ranges_together_are_refused()
    {
        var rule = JsonNode.Parse(Rule("r", 300))!;
        rule["properties"]!["destinationPortRanges"] = new JsonArray("80", "443");

        var error = Assert.Single(Validate(Rules(rule.ToJsonString())).Errors);
        Assert.Equal("InvalidRequestFormat", error.Code);
    }

    [Fact]
    public void Unknown_protocol_access_or_direction_and_duplicate_names_are_each_reported()
    {
        var context = Validate(Rules(Rule("r", 300, protocol: "Gre", access: "Maybe", direction: "Sideways"), Rule("R", 301)));

        Assert.Equal(
            ["DuplicateResourceName", "InvalidRequestFormat", "InvalidRequestFormat", "InvalidRequestFormat"],
            context.Errors.Select(e => e.Code).Order(StringComparer.Ordinal));
    }

    private static string Rules(params string[] rules) => $$"""{"securityRules":[{{string.Join(",", rules)}}]}""";

    private static string Rule(string name, int priority, string protocol = "Tcp", string access = "Allow", string direction = "Inbound") =>
        $$$"""{"name":"{{{name}}}","properties":{"protocol":"{{{protocol}}}","access":"{{{access}}}","direction":"{{{direction}}}","priority":{{{priority}}},"sourcePortRange":"*","destinationPortRange":"22","sourceAddressPrefix":"10.0.0.0/8","destinationAddressPrefix":"*"}}""";

    private static string S(JsonNode rule, string property) => rule["properties"]![property]!.GetValue<string>();

    private ResourceValidationContext Validate(string properties)
    {
        var context = new ResourceValidationContext(GroupId, JsonNode.Parse(properties)!.AsObject(), null);
        _handler.Validate(context);
        return context;
    }
}
