using System.CommandLine;
using Holdfast.State.Etcd;

namespace Holdfast.Commands;

/// <summary>
/// <c>--etcd-ca-file</c>, <c>--etcd-cert-file</c>, <c>--etcd-key-file</c>: TLS to an <c>etcds://</c> store; and
/// <c>--etcd-api</c>, the API spoken (gRPC or the JSON gateway); shared by serve, backup and restore.
/// </summary>
internal sealed class EtcdTlsOptions
{
    public Option<string?> CaFile { get; } = new("--etcd-ca-file") { Description = "With --store etcds://…: PEM file of the CA that signed etcd's server certificates (the only CA trusted)." };

    public Option<string?> CertFile { get; } = new("--etcd-cert-file") { Description = "With --store etcds://…: PEM client certificate for etcd's --client-cert-auth." };

    public Option<string?> KeyFile { get; } = new("--etcd-key-file") { Description = "With --store etcds://…: PEM private key of --etcd-cert-file." };

    public Option<string?> Api { get; } = new("--etcd-api") { Description = "With --store etcd(s)://…: grpc (default: etcd's native API) or gateway (its JSON gateway under /v3/)." };

    public void AddTo(Command command)
    {
        command.Options.Add(CaFile);
        command.Options.Add(CertFile);
        command.Options.Add(KeyFile);
        command.Options.Add(Api);
    }

    /// <summary>Whether any of the three flags was given.</summary>
    public bool AnyGiven(ParseResult parse) =>
        (parse.GetValue(CaFile) ?? parse.GetValue(CertFile) ?? parse.GetValue(KeyFile)) is not null;

    /// <summary>Whether any etcd-only flag (TLS or <c>--etcd-api</c>) was given.</summary>
    public bool AnyEtcdFlag(ParseResult parse) => AnyGiven(parse) || parse.GetValue(Api) is not null;

    /// <summary>
    /// The etcd options for <paramref name="store"/>: the URI and, for etcds://, the TLS files. Throws
    /// <see cref="FormatException"/> for a bad URI, missing or unreadable files, or flags that do not fit the scheme.
    /// </summary>
    public EtcdStateStoreOptions Parse(ParseResult parse, string store)
    {
        string? ca = parse.GetValue(CaFile);
        string? cert = parse.GetValue(CertFile);
        string? key = parse.GetValue(KeyFile);
        bool secure = store.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);
        if (!secure && AnyGiven(parse))
        {
            throw new FormatException("--etcd-ca-file, --etcd-cert-file and --etcd-key-file apply only to an etcds://… store; etcd://… is plain HTTP.");
        }

        if (secure && ca is null)
        {
            throw new FormatException("etcds://… needs --etcd-ca-file (the CA that signed etcd's server certificates), and --etcd-cert-file/--etcd-key-file when etcd runs with --client-cert-auth.");
        }

        var api = parse.GetValue(Api)?.ToLowerInvariant() switch
        {
            null or "grpc" => EtcdApi.Grpc,
            "gateway" => EtcdApi.Gateway,
            var other => throw new FormatException($"--etcd-api '{other}' is not grpc or gateway."),
        };
        return EtcdStateStoreOptions.Parse(store, secure ? EtcdClientTls.Load(ca!, cert, key) : null, api);
    }

    /// <summary>Whether <paramref name="store"/> names an etcd store (etcd:// or etcds://).</summary>
    public static bool IsEtcd(string store) =>
        store.StartsWith("etcd://", StringComparison.OrdinalIgnoreCase) || store.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);
}
