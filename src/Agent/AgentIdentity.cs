using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Fabric;

namespace Holdfast.Agent;

/// <summary>
/// What an agent keeps in its state directory after join, all 0600: its private key, the client certificate the site
/// CA issued for it, and its host name with the timing the server last gave. A restarted agent re-uses them and needs
/// no token. <c>vms.json</c> beside them is the simulated driver's, when that driver is used.
/// </summary>
internal sealed class AgentIdentity
{
    public const string KeyFile = "agent-key.pem";
    public const string CertificateFile = "agent-cert.pem";
    public const string StateFile = "agent.json";

    private AgentIdentity(AgentState state, X509Certificate2 certificate)
    {
        State = state;
        Certificate = certificate;
    }

    public AgentState State { get; private set; }

    /// <summary>The client certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, KeyFile)) && File.Exists(Path.Combine(directory, CertificateFile)) && File.Exists(Path.Combine(directory, StateFile));

    public static AgentIdentity Load(string directory)
    {
        var state = FabricJson.Deserialize<AgentState>(File.ReadAllBytes(Path.Combine(directory, StateFile)));
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(directory, CertificateFile), Path.Combine(directory, KeyFile));
        return new AgentIdentity(state, Exportable(pem));
    }

    /// <summary>Persists a new identity (key first: a certificate without its key would be useless).</summary>
    public static AgentIdentity Save(string directory, AgentState state, ECDsa key, string certificatePem)
    {
        using var issued = X509Certificate2.CreateFromPem(certificatePem);
        using var withKey = issued.CopyWithPrivateKey(key);
        var identity = new AgentIdentity(state, Exportable(withKey));
        AgentFiles.WriteAtomic(Path.Combine(directory, KeyFile), key.ExportPkcs8PrivateKeyPem(), isPrivate: true);
        AgentFiles.WriteAtomic(Path.Combine(directory, CertificateFile), certificatePem, isPrivate: true);
        AgentFiles.WriteAtomic(Path.Combine(directory, StateFile), FabricJson.Serialize(state), isPrivate: true);
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
}

/// <summary>The agent's persisted state: which host it is, and the timing the server last gave it.</summary>
internal sealed record AgentState(string HostName, int HeartbeatSeconds, int SelfFenceSeconds);
