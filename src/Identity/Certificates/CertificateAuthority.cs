using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Identity.Certificates;

/// <summary>
/// The site's own certificate authority (ECDSA P-256). It signs the server's TLS certificate and, later, host
/// agents' client certificates, so an air-gapped site needs no public CA. Persisting the PEMs is the caller's job.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    private CertificateAuthority(X509Certificate2 certificate)
    {
        Certificate = certificate;
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public static CertificateAuthority Create(string commonName, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}, O=Holdfast"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 1, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + validity);
        return new CertificateAuthority(certificate);
    }

    public static CertificateAuthority FromPem(string certificatePem, string keyPem) =>
        new(X509Certificate2.CreateFromPem(certificatePem, keyPem));

    /// <summary>Issues a TLS server certificate for the given DNS names and IP addresses.</summary>
    public X509Certificate2 IssueServerCertificate(IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now, TimeSpan validity)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        var names = dnsNames.ToList();
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        foreach (var address in addresses)
        {
            san.AddIpAddress(address);
        }

        return Issue($"CN={(names.Count > 0 ? names[0] : "holdfast")}, O=Holdfast", san.Build(), new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, now, validity);
    }

    /// <summary>Issues a client certificate (for mTLS, e.g. a host agent) whose subject CN is <paramref name="commonName"/>.</summary>
    public X509Certificate2 IssueClientCertificate(string commonName, DateTimeOffset now, TimeSpan validity)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(commonName);
        return Issue($"CN={commonName}, O=Holdfast", san.Build(), new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") }, now, validity);
    }

    /// <summary>
    /// Signs a host agent's certificate signing request (PEM, ECDSA P-256 key, its self-signature checked): a client
    /// certificate with subject CN <paramref name="commonName"/> (whatever the CSR asked for) and the client-auth EKU.
    /// The private key never leaves the agent. A CSR that does not parse or verify throws <see cref="ArgumentException"/>.
    /// </summary>
    public X509Certificate2 SignClientCertificate(string certificateSigningRequestPem, string commonName, DateTimeOffset now, TimeSpan validity)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        CertificateRequest csr;
        try
        {
            csr = CertificateRequest.LoadSigningRequestPem(certificateSigningRequestPem ?? "", HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (CryptographicException ex)
        {
            throw new ArgumentException("The certificate signing request is not a valid, self-signed PKCS#10 request: " + ex.Message, nameof(certificateSigningRequestPem), ex);
        }

        using (var key = csr.PublicKey.GetECDsaPublicKey())
        {
            if (key is null || key.KeySize < 256)
            {
                throw new ArgumentException("The certificate signing request must carry an ECDSA key of at least 256 bits.", nameof(certificateSigningRequestPem));
            }
        }

        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(commonName);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}, O=Holdfast"), csr.PublicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") }, critical: false));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notAfter = now + validity;
        if (notAfter > Certificate.NotAfter)
        {
            notAfter = Certificate.NotAfter;
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        return request.Create(Certificate, now.AddMinutes(-5), notAfter, serial);
    }

    private X509Certificate2 Issue(string subject, X509Extension subjectAlternativeNames, OidCollection usages, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(subject), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, critical: false));
        request.CertificateExtensions.Add(subjectAlternativeNames);
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var notAfter = now + validity;
        if (notAfter > Certificate.NotAfter)
        {
            notAfter = Certificate.NotAfter;
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(Certificate, now.AddMinutes(-5), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    public string ExportCertificatePem() => Certificate.ExportCertificatePem();

    public string ExportPrivateKeyPem() => Certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    /// <summary>True when <paramref name="certificate"/> chains to this CA (and only this CA) and is valid at <paramref name="now"/> (default: the wall clock).</summary>
    public bool Verifies(X509Certificate2 certificate, DateTimeOffset? now = null)
    {
        using var chain = new X509Chain();
        if (now is { } at)
        {
            chain.ChainPolicy.VerificationTime = at.UtcDateTime;
            chain.ChainPolicy.VerificationTimeIgnored = false;
        }

        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public void Dispose() => Certificate.Dispose();
}
