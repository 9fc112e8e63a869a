using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Tags;
using Xunit;

namespace Holdfast.Resources.Tests.Tags;

public sealed class TagRulesTests
{
    private readonly List<ApiError> _errors = [];

    [Fact]
    public void Validate_NullTags_ReturnsEmptySetWithoutErrors()
    {
        var result = TagRules.Validate(null, _errors);

        Assert.Empty(result);
        Assert.Empty(_errors);
    }

    [Fact]
    public void Validate_ValidTags_ReturnsCopy()
    {
        var tags = new JsonObject { ["env"] = "prod", ["owner"] = "team-a" };

        var result = TagRules.Validate(tags, _errors);

        Assert.Empty(_errors);
        Assert.Equal("prod", result["env"]!.GetValue<string>());
        Assert.Equal("team-a", result["owner"]!.GetValue<string>());
        Assert.NotSame(tags, result);
    }

    [Fact]
    public void Validate_NullTagValue_BecomesEmptyString()
    {
        var result = TagRules.Validate(JsonNode.Parse("""{"env":null}"""), _errors);

        Assert.Empty(_errors);
        Assert.Equal(string.Empty, result["env"]!.GetValue<string>());
    }

    [Fact]
    public void Validate_50Tags_IsValid()
    {
        TagRules.Validate(ManyTags(50), _errors);

        Assert.Empty(_errors);
    }

    [Fact]
    public void Validate_51Tags_ReportsCount()
    {
        TagRules.Validate(ManyTags(51), _errors);

        var error = Assert.Single(_errors);
        Assert.Equal(ArmErrorCodes.InvalidTagCount, error.Code);
        Assert.Equal("tags", error.Target);
    }

    [Fact]
    public void Validate_NameOf512Characters_IsValid()
    {
        TagRules.Validate(new JsonObject { [new string('n', 512)] = "v" }, _errors);

        Assert.Empty(_errors);
    }

    [Fact]
    public void Validate_NameOf513Characters_ReportsNameLength()
    {
        TagRules.Validate(new JsonObject { [new string('n', 513)] = "v" }, _errors);

        Assert.Equal(ArmErrorCodes.InvalidTagNameLength, Assert.Single(_errors).Code);
    }

    [Fact]
    public void Validate_EmptyName_ReportsNameLength()
    {
        TagRules.Validate(new JsonObject { [string.Empty] = "v" }, _errors);

        Assert.Equal(ArmErrorCodes.InvalidTagNameLength, Assert.Single(_errors).Code);
    }

    [Fact]
    public void Validate_ValueOf256Characters_IsValid()
    {
        TagRules.Validate(new JsonObject { ["n"] = new string('v', 256) }, _errors);

        Assert.Empty(_errors);
    }

    [Fact]
    public void Validate_ValueOf257Characters_ReportsValueLength()
    {
        TagRules.Validate(new JsonObject { ["n"] = new string('v', 257) }, _errors);

        Assert.Equal(ArmErrorCodes.InvalidTagValueLength, Assert.Single(_errors).Code);
    }

    [Theory]
    [InlineData("a<b")]
    [InlineData("a>b")]
    [InlineData("a%b")]
    [InlineData("a&b")]
    [InlineData("a\\b")]
    [InlineData("a?b")]
    [InlineData("a/b")]
    public void Validate_ForbiddenNameCharacter_ReportsCharacters(string name)
    {
        TagRules.Validate(new JsonObject { [name] = "v" }, _errors);

        Assert.Equal(ArmErrorCodes.InvalidTagNameCharacters, Assert.Single(_errors).Code);
    }

    [Theory]
    [InlineData("""{"n":1}""")]
    [InlineData("""{"n":true}""")]
    [InlineData("""{"n":{"x":"y"}}""")]
    [InlineData("""{"n":["v"]}""")]
    public void Validate_NonStringValue_ReportsInvalidTag(string json)
    {
        var result = TagRules.Validate(JsonNode.Parse(json), _errors);

        Assert.Equal(ArmErrorCodes.InvalidTag, Assert.Single(_errors).Code);
        Assert.False(result.ContainsKey("n"));
    }

    [Theory]
    [InlineData("""["a"]""")]
    [InlineData("\"a\"")]
    [InlineData("3")]
    public void Validate_TagsNotAnObject_ReportsInvalidTag(string json)
    {
        TagRules.Validate(JsonNode.Parse(json), _errors);

        Assert.Equal(ArmErrorCodes.InvalidTag, Assert.Single(_errors).Code);
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEach()
    {
        var tags = ManyTags(51);
        tags["bad/name"] = "v";
        tags["long"] = new string('v', 257);
        tags["number"] = 7;

        TagRules.Validate(tags, _errors);

        Assert.Equal(
            [ArmErrorCodes.InvalidTagCount, ArmErrorCodes.InvalidTagNameCharacters, ArmErrorCodes.InvalidTagValueLength, ArmErrorCodes.InvalidTag],
            _errors.Select(e => e.Code));
    }

    private static JsonObject ManyTags(int count)
    {
        var tags = new JsonObject();
        for (var i = 0; i < count; i++)
        {
            tags["tag" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = "value";
        }

        return tags;
    }
}
