using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Holdfast.Fabric;

namespace Holdfast.Agent;

/// <summary>
/// What an agent keeps in its state directory after join, all 0600: its private key, the client certificate the site
/// CA issued for it, and its host name with the timing the server last gave. A restarted agent re-uses them and needs
/// no token. <c>vms.json</c> beside them is the simulated driver's, when that driver is used.
/// </summary>
/// <remarks>
/// A new identity (join or renewal) is first written whole to <see cref="PendingFile"/> (temp file, fsync, rename), then
/// to the three files, then the pending file is deleted. Key and certificate live in two files, which no rename can
/// switch together; the pending file can: a crash anywhere leaves either the old pair intact (no pending file) or the
/// complete new identity in it, which <see cref="Load"/> finishes installing.
/// </remarks>
internal sealed class AgentIdentity
{
    public const string KeyFile = "agent-key.pem";
    public const string CertificateFile = "agent-cert.pem";
    public const string StateFile = "agent.json";
    public const string PendingFile = "agent-identity.pending.json";

    private AgentIdentity(AgentState state, X509Certificate2 certificate)
    {
        State = state;
        Certificate = certificate;
    }

    public AgentState State { get; private set; }

    /// <summary>The client certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public DateTimeOffset NotBefore => new(Certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);

    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, PendingFile))
        || (File.Exists(Path.Combine(directory, KeyFile)) && File.Exists(Path.Combine(directory, CertificateFile)) && File.Exists(Path.Combine(directory, StateFile)));

    public static AgentIdentity Load(string directory)
    {
        var pendingPath = Path.Combine(directory, PendingFile);
        if (File.Exists(pendingPath))
        {
            // A save was interrupted after the new identity was complete: finish it.
            var pending = FabricJson.Deserialize<PendingIdentity>(File.ReadAllBytes(pendingPath));
            using var key = ECDsa.Create();
            key.ImportFromPem(pending.KeyPem);
            return Save(directory, pending.State, key, pending.CertificatePem);
        }

        var state = FabricJson.Deserialize<AgentState>(File.ReadAllBytes(Path.Combine(directory, StateFile)));
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(directory, CertificateFile), Path.Combine(directory, KeyFile));
        return new AgentIdentity(state, Exportable(pem));
    }

    /// <summary>
    /// Persists a new identity (at join or renewal) so that a crash at any point leaves the old one or the new one,
    /// never a key with another key's certificate. Throws <see cref="CryptographicException"/> when the certificate is
    /// not for <paramref name="key"/>, before anything is written.
    /// </summary>
    public static AgentIdentity Save(string directory, AgentState state, ECDsa key, string certificatePem)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var issued = X509Certificate2.CreateFromPem(certificatePem);
        using var withKey = issued.CopyWithPrivateKey(key);
        var identity = new AgentIdentity(state, Exportable(withKey));
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        var pendingPath = Path.Combine(directory, PendingFile);
        AgentFiles.WriteAtomic(pendingPath, JsonSerializer.SerializeToUtf8Bytes(new PendingIdentity(state, certificatePem, keyPem), FabricJson.Options), isPrivate: true);
        AgentFiles.WriteAtomic(Path.Combine(directory, KeyFile), keyPem, isPrivate: true);
        AgentFiles.WriteAtomic(Path.Combine(directory, CertificateFile), certificatePem, isPrivate: true);
        AgentFiles.WriteAtomic(Path.Combine(directory, StateFile), FabricJson.Serialize(state), isPrivate: true);
        File.Delete(pendingPath);
        return identity;
    }

    public void Update(string directory, AgentState state)
    {
        if (state != State)
        {
            State = state;
            AgentFiles.WriteAtomic(Path.Combine(directory, StateFile), FabricJson.Serialize(state), isPrivate: true);
        }
    }

    /// <summary>A copy whose key TLS can use on every platform (a PEM-loaded key is ephemeral).</summary>
    private static X509Certificate2 Exportable(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);

    /// <summary>A whole identity in one file, written before its parts (see the remarks above).</summary>
    private sealed record PendingIdentity(AgentState State, string CertificatePem, string KeyPem);
}

/// <summary>
/// The agent's persisted state: which host it is, the timing the server last gave it, and when it received its current
/// certificate (the start of the lifetime <see cref="CertificateRenewal"/> measures; null in state from before renewal).
/// </summary>
internal sealed record AgentState(string HostName, int HeartbeatSeconds, int SelfFenceSeconds, DateTimeOffset? CertificateReceivedAt = null);
