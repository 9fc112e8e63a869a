using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;

namespace Holdfast.Resources.Tags;

/// <summary>
/// ARM's tag limits (learn.microsoft.com "tag-resources"): at most 50 tags; names at most 512 characters and values at
/// most 256; names may not contain <c>&lt; &gt; % &amp; \ ? /</c>; values are strings.
/// </summary>
public static class TagRules
{
    public const int MaxTags = 50;
    public const int MaxNameLength = 512;
    public const int MaxValueLength = 256;
    private static readonly System.Buffers.SearchValues<char> ForbiddenNameCharacters = System.Buffers.SearchValues.Create("<>%&\\?/");

    /// <summary>Validates a <c>tags</c> node (null or absent is an empty set) and returns a normalised copy.</summary>
    public static JsonObject Validate(JsonNode? tags, ICollection<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var result = new JsonObject();
        if (tags is null)
        {
            return result;
        }

        if (tags is not JsonObject map)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidTag, "The 'tags' property must be a JSON object of string names to string values.", "tags"));
            return result;
        }

        if (map.Count > MaxTags)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidTagCount, $"The tag count {map.Count} exceeds the maximum of {MaxTags} tags per resource.", "tags"));
        }

        foreach (var (name, value) in map)
        {
            if (name.Length == 0 || name.Length > MaxNameLength)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidTagNameLength, $"The tag name '{Truncate(name)}' must be 1 to {MaxNameLength} characters long.", "tags"));
            }
            else if (name.AsSpan().IndexOfAny(ForbiddenNameCharacters) >= 0)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidTagNameCharacters, $"The tag name '{Truncate(name)}' has characters that are not allowed: '<,>,%,&,\\,?,/'.", "tags"));
            }

            string text;
            if (value is null)
            {
                text = string.Empty;
            }
            else if (value.GetValueKind() == JsonValueKind.String)
            {
                text = value.GetValue<string>();
            }
            else
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidTag, $"The value of tag '{Truncate(name)}' must be a string.", "tags"));
                continue;
            }

            if (text.Length > MaxValueLength)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidTagValueLength, $"The value of tag '{Truncate(name)}' exceeds {MaxValueLength} characters.", "tags"));
            }

            result[name] = text;
        }

        return result;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
