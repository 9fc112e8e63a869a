using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.State.Etcd;

/// <summary>
/// TLS to etcd (<c>etcds://</c>): the server's certificate must chain to <see cref="TrustedCa"/> only (never the
/// system store) and name the host dialled; <see cref="ClientCertificate"/> answers etcd's <c>--client-cert-auth</c>.
/// </summary>
public sealed class EtcdClientTls
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private EtcdClientTls(X509Certificate2Collection trustedCa, SslStreamCertificateContext? clientCertificate)
    {
        TrustedCa = trustedCa;
        ClientCertificate = clientCertificate;
    }

    /// <summary>The CA certificates that signed etcd's server certificates; nothing else is trusted.</summary>
    public X509Certificate2Collection TrustedCa { get; }

    /// <summary>The client certificate (with its private key and any intermediates from its file), if any.</summary>
    public SslStreamCertificateContext? ClientCertificate { get; }

    /// <summary>
    /// Reads the PEM files behind <c>--etcd-ca-file</c>, <c>--etcd-cert-file</c> and <c>--etcd-key-file</c>. Throws
    /// <see cref="FormatException"/> with a message fit for an operator (it names files, never their contents).
    /// </summary>
    public static EtcdClientTls Load(string caFile, string? certFile, string? keyFile)
    {
        ArgumentNullException.ThrowIfNull(caFile);
        if ((certFile is null) != (keyFile is null))
        {
            throw new FormatException("--etcd-cert-file and --etcd-key-file go together: give both or neither.");
        }

        var trusted = new X509Certificate2Collection();
        Read(caFile, "--etcd-ca-file", path => trusted.ImportFromPemFile(path));
        if (trusted.Count == 0)
        {
            throw new FormatException($"--etcd-ca-file '{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
        }

        SslStreamCertificateContext? client = null;
        if (certFile is not null && keyFile is not null)
        {
            Read(keyFile, "--etcd-key-file", path => File.OpenRead(path).Dispose());
            X509Certificate2? leaf = null;
            var chain = new X509Certificate2Collection();
            Read(certFile, "--etcd-cert-file", path =>
            {
                chain.ImportFromPemFile(path);
                using var pem = X509Certificate2.CreateFromPemFile(path, keyFile);

                // A key created from PEM is ephemeral; SslStream wants one it can use on every platform, so round-trip
                // through PKCS#12 (in memory only).
                leaf = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            });
            client = SslStreamCertificateContext.Create(leaf!, [.. chain.Skip(1)], offline: true);
        }

        return new EtcdClientTls(trusted, client);
    }

    /// <summary>Applies this to a handler: the trust decision, the client certificate and TLS 1.2 or later.</summary>
    internal void Apply(SslClientAuthenticationOptions ssl)
    {
        ssl.RemoteCertificateValidationCallback = Validate;
        ssl.ClientCertificateContext = ClientCertificate;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    private static void Read(string path, string flag, Action<string> read)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"{flag} '{path}' does not exist.");
        }

        try
        {
            read(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"{flag} '{path}' cannot be read: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // The message says what is wrong with the PEM (no key, mismatched key); it never carries the key itself.
            throw new FormatException($"{flag} '{path}' is not a usable PEM file: {ex.Message}", ex);
        }
    }
}
