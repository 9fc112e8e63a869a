using System.Net;
using Holdfast.Resources.Errors;
using Xunit;

namespace Holdfast.Resources.Tests.Errors;

public sealed class ApiExceptionTests
{
    [Fact]
    public void FromValidation_SingleError_IsThatErrorAsA400()
    {
        var error = new ApiError(ArmErrorCodes.InvalidTagCount, "Too many tags.", "tags");

        var ex = ApiException.FromValidation([error]);

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal(ArmErrorCodes.InvalidTagCount, ex.Code);
        Assert.Equal("Too many tags.", ex.Message);
        Assert.Equal("tags", ex.Target);
        Assert.Empty(ex.Details);
        Assert.Equal(new ApiError(ArmErrorCodes.InvalidTagCount, "Too many tags.", "tags"), ex.ToError());
    }

    [Fact]
    public void FromValidation_ManyErrors_IsOneInvalidRequestContentWithEveryErrorAsDetail()
    {
        ApiError[] errors =
        [
            new(ArmErrorCodes.InvalidTagCount, "Too many tags.", "tags"),
            new("InvalidAddressPrefixFormat", "Bad prefix.", "properties.addressSpace.addressPrefixes[0]"),
            new("InvalidDnsServer", "Bad DNS.", "properties.dhcpOptions.dnsServers[0]"),
        ];

        var ex = ApiException.FromValidation(errors);

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal(ArmErrorCodes.InvalidRequestContent, ex.Code);
        Assert.Contains("3 problems", ex.Message, StringComparison.Ordinal);
        Assert.Null(ex.Target);
        Assert.Equal(errors, ex.Details);
        Assert.Equal(errors, ex.ToError().Details);
    }

    [Fact]
    public void FromValidation_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => ApiException.FromValidation(null!));
    }

    [Fact]
    public void ToError_NoDetails_HasNullDetails()
    {
        var ex = ApiErrors.ResourceGroupNotFound("rg1");

        var error = ex.ToError();

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal(ArmErrorCodes.ResourceGroupNotFound, error.Code);
        Assert.Null(error.Details);
    }
}
