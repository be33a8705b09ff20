{{/* Durable state and analyst credentials of the feedback service, the learner and the console. */}}

{{/* The `data` claim of a StatefulSet; call with the service's persistence values. */}}
{{- define "fraudstream.dataClaim" -}}
- metadata:
    name: data
  spec:
    accessModes:
      {{- toYaml .accessModes | nindent 6 }}
    {{- with .storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end }}

{{/* FRAUDSTREAM_ANALYST_TOKENS_FILE and FRAUDSTREAM_ANALYST_TOKENS, each from a Secret. */}}
{{- define "fraudstream.authEnv" -}}
{{- $auth := .Values.auth }}
{{- if $auth.tokensFile.existingSecret }}
- name: FRAUDSTREAM_ANALYST_TOKENS_FILE
  value: /etc/fraudstream/auth/{{ $auth.tokensFile.key }}
{{- end }}
{{- /* Always wired, as deploy/compose.yaml does; optional, so no Secret means no such tokens. */}}
- name: FRAUDSTREAM_ANALYST_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ $auth.analystTokens.existingSecret | default (printf "%s-analyst-tokens" (include "fraudstream.fullname" .)) }}
      key: {{ $auth.analystTokens.key }}
      optional: true
{{- end }}

{{- define "fraudstream.authMounts" -}}
{{- if .Values.auth.tokensFile.existingSecret }}
- {name: analyst-tokens, mountPath: /etc/fraudstream/auth, readOnly: true}
{{- end }}
{{- end }}

{{- define "fraudstream.authVolumes" -}}
{{- if .Values.auth.tokensFile.existingSecret }}
- name: analyst-tokens
  secret:
    secretName: {{ .Values.auth.tokensFile.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/* Signed models: the public key for scorers and the learner, the private one for the
     learner only; call with (dict "root" $ "signer" true|false). */}}
{{- define "fraudstream.signingEnv" -}}
{{- if .root.Values.modelSigning.enabled }}
- name: FRAUDSTREAM_MODEL_VERIFY_KEYS
  value: /etc/fraudstream/signing-public/model-signing.pub
{{- if .signer }}
- name: FRAUDSTREAM_MODEL_SIGNING_KEY
  value: /etc/fraudstream/signing-private/model-signing.key
{{- end }}
{{- end }}
{{- end }}

{{- define "fraudstream.signingMounts" -}}
{{- if .root.Values.modelSigning.enabled }}
- {name: signing-public, mountPath: /etc/fraudstream/signing-public, readOnly: true}
{{- if .signer }}
- {name: signing-private, mountPath: /etc/fraudstream/signing-private, readOnly: true}
{{- end }}
{{- end }}
{{- end }}

{{- define "fraudstream.signingVolumes" -}}
{{- $signing := .root.Values.modelSigning }}
{{- $name := include "fraudstream.fullname" .root }}
{{- if $signing.enabled }}
- name: signing-public
  secret:
    secretName: {{ $signing.publicSecret | default (printf "%s-model-signing-pub" $name) }}
    items: [{key: model-signing.pub, path: model-signing.pub}]
{{- if .signer }}
- name: signing-private
  secret:
    secretName: {{ $signing.privateSecret | default (printf "%s-model-signing-key" $name) }}
    items: [{key: model-signing.key, path: model-signing.key}]
    defaultMode: 0400
{{- end }}
{{- end }}
{{- end }}
