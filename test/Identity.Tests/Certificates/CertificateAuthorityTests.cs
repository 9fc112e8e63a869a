using System.Net;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Identity.Certificates;
using Xunit;

namespace Holdfast.Identity.Tests.Certificates;

public sealed class CertificateAuthorityTests : IDisposable
{
    private static readonly TimeSpan Year = TimeSpan.FromDays(365);

    // X509Chain checks validity against the wall clock, so certificates are issued at the real time.
    private readonly DateTimeOffset _now = TimeProvider.System.GetUtcNow();
    private readonly CertificateAuthority _ca;

    public CertificateAuthorityTests()
    {
        _ca = CertificateAuthority.Create("Holdfast Test CA", _now, 10 * Year);
    }

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Verifies_ServerCertificateFromThisCa_ReturnsTrue()
    {
        using var certificate = _ca.IssueServerCertificate(["holdfast.local"], [IPAddress.Loopback], _now, Year);

        Assert.True(_ca.Verifies(certificate));
        Assert.Equal(_ca.Certificate.Subject, certificate.Issuer);
        Assert.True(certificate.HasPrivateKey);
    }

    [Fact]
    public void Verifies_ClientCertificateFromThisCa_ReturnsTrue()
    {
        using var certificate = _ca.IssueClientCertificate("host-01", _now, Year);

        Assert.True(_ca.Verifies(certificate));
        Assert.Contains("CN=host-01", certificate.Subject, StringComparison.Ordinal);
    }

    [Fact]
    public void Verifies_CertificateFromAnotherCa_ReturnsFalse()
    {
        using var otherCa = CertificateAuthority.Create("Holdfast Test CA", _now, 10 * Year);
        using var foreign = otherCa.IssueServerCertificate(["holdfast.local"], [IPAddress.Loopback], _now, Year);

        Assert.False(_ca.Verifies(foreign));
        Assert.True(otherCa.Verifies(foreign));
    }

    [Fact]
    public void IssueServerCertificate_NamesAndAddresses_AreSubjectAlternativeNames()
    {
        var v6 = IPAddress.Parse("fd00::10");

        using var certificate = _ca.IssueServerCertificate(["holdfast.local", "api.holdfast.local"], [IPAddress.Loopback, v6], _now, Year);

        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["holdfast.local", "api.holdfast.local"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, v6], san.EnumerateIPAddresses());
        Assert.Contains("CN=holdfast.local", certificate.Subject, StringComparison.Ordinal);
    }

    [Fact]
    public void IssueServerCertificate_AnyNames_IsServerAuthAndNotACa()
    {
        using var certificate = _ca.IssueServerCertificate(["holdfast.local"], [], _now, Year);

        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages;
        Assert.Contains(usages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.1");
        Assert.False(certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
    }

    [Fact]
    public void IssueServerCertificate_ValidityBeyondCa_IsCappedAtCaExpiry()
    {
        using var certificate = _ca.IssueServerCertificate(["holdfast.local"], [], _now, 20 * Year);

        Assert.True(certificate.NotAfter <= _ca.Certificate.NotAfter);
        Assert.True(_ca.Verifies(certificate));
    }

    [Fact]
    public void FromPem_ExportedCa_VerifiesCertificatesIssuedByOriginal()
    {
        using var certificate = _ca.IssueServerCertificate(["holdfast.local"], [], _now, Year);

        using var restored = CertificateAuthority.FromPem(_ca.ExportCertificatePem(), _ca.ExportPrivateKeyPem());

        Assert.True(restored.Verifies(certificate));
        using var reissued = restored.IssueServerCertificate(["holdfast.local"], [], _now, Year);
        Assert.True(_ca.Verifies(reissued));
    }
}
