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
