using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Testing;

/// <summary>
/// Server-certificate checks for test clients of a Holdfast install: trust exactly the install's own CA (never the
/// system store) and, for <see cref="Validator"/>, require the certificate to name the host dialled.
/// </summary>
public static class PinnedCa
{
    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="ca"/> and to nothing else.</summary>
    public static bool ChainsTo(X509Certificate certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    /// <summary>True when the certificate names the host dialled and chains to <paramref name="ca"/>.</summary>
    public static bool Accepts(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca) =>
        certificate is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && ChainsTo(certificate, ca);

    /// <summary><see cref="Accepts"/> as a TLS validation callback.</summary>
    public static RemoteCertificateValidationCallback Validator(X509Certificate2 ca) =>
        (_, certificate, _, errors) => Accepts(certificate, errors, ca);
}
