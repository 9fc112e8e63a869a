using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Testing;

/// <summary>
/// A throwaway PKI for etcd over TLS, written as PEM files into a folder: a CA, a server certificate for 127.0.0.1
/// (IP SAN, serverAuth) and a client certificate (clientAuth), all ECDSA P-256 and signed by the CA.
/// </summary>
public sealed class EtcdTlsMaterial
{
    private EtcdTlsMaterial(string directory, string prefix, X509Certificate2 client)
    {
        CaFile = Path.Combine(directory, prefix + "ca.pem");
        ServerCertFile = Path.Combine(directory, prefix + "server.pem");
        ServerKeyFile = Path.Combine(directory, prefix + "server-key.pem");
        ClientCertFile = Path.Combine(directory, prefix + "client.pem");
        ClientKeyFile = Path.Combine(directory, prefix + "client-key.pem");
        ClientCertificate = client;
    }

    public string CaFile { get; }

    public string ServerCertFile { get; }

    public string ServerKeyFile { get; }

    public string ClientCertFile { get; }

    public string ClientKeyFile { get; }

    /// <summary>The client certificate with its key, for a test's own probe.</summary>
    public X509Certificate2 ClientCertificate { get; }

    /// <summary>etcd's flags for this material: TLS on the client URL, client certificates required.</summary>
    public EtcdServerTls ServerTls => new(ServerCertFile, ServerKeyFile, CaFile, ClientCertAuth: true, ClientCertificate);

    /// <summary>Creates the CA and both certificates under <paramref name="directory"/>, file names starting with <paramref name="prefix"/>.</summary>
    public static EtcdTlsMaterial Create(string directory, string prefix = "")
    {
        var notBefore = TimeProvider.System.GetUtcNow().AddDays(-1);
        var notAfter = notBefore.AddDays(3);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=holdfast test etcd CA {prefix}{Guid.NewGuid():N}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        // etcd's gRPC gateway dials its own client URL with the server certificate, so that one needs clientAuth too.
        var server = Issue(ca, "CN=127.0.0.1", notBefore, notAfter, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], san: true);
        var client = Issue(ca, "CN=holdfast-replica", notBefore, notAfter, ["1.3.6.1.5.5.7.3.2"], san: false);
        var material = new EtcdTlsMaterial(directory, prefix, client);
        File.WriteAllText(material.CaFile, ca.ExportCertificatePem());
        Write(server, material.ServerCertFile, material.ServerKeyFile);
        Write(client, material.ClientCertFile, material.ClientKeyFile);
        server.Dispose();
        return material;
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter, string[] usages, bool san)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages.Select(u => new Oid(u))], false));
        if (san)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        using var issued = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static void Write(X509Certificate2 certificate, string certFile, string keyFile)
    {
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }
}
